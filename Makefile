# The two set-up commands are `make demo` and `make test`; everything they
# need is installed and started by the scripts in dev/.

# Builds are cached outside the clone so a fresh clone (and CI) reuses them.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/matrix-sync/target
export MATRIX_SYNC_BIN := $(CARGO_TARGET_DIR)/debug/matrix-sync

.PHONY: build test demo bench soak lint fmt stop clean

build:
	cargo build --workspace --bins

## test: PostgreSQL, a local Synapse, the web embed and Chromium, then every test.
test: build
	dev/postgres.sh
	# A fresh Synapse process: its connection pool to the appservice port
	# must not hold connections to services of an earlier run.
	dev/synapse.sh restart test
	# The fault tests pause, stop and restart a homeserver of their own.
	dev/synapse.sh restart faults
	# Two homeservers that federate over TLS on loopback (UC-5).
	SYNAPSE_FEDERATION=1 dev/synapse.sh restart federation-a
	SYNAPSE_FEDERATION=1 dev/synapse.sh restart federation-b
	dev/web.sh
	dev/schemathesis.sh
	# deploy/ without a container engine: compose config, the generated
	# Synapse config loaded by Synapse, nginx -t, the systemd unit.
	dev/compose-check.sh
	MATRIX_SYNC_TEST_ENV=$(CURDIR)/.dev/test/env MATRIX_SYNC_FAULTS_ENV=$(CURDIR)/.dev/faults/env \
	  MATRIX_SYNC_FEDERATION_ENV=$(CURDIR)/.dev/federation-a/env MATRIX_SYNC_FEDERATION_PEER_ENV=$(CURDIR)/.dev/federation-b/env \
	  cargo test --workspace --no-fail-fast

## demo: a local Synapse and the service on the embedded defaults (SQLite), and what it did.
demo: build
	dev/demo.sh

## bench: the scenarios against a local Synapse on PostgreSQL; figures in bench/ (BENCH_SCALE scales them).
bench:
	dev/bench.sh

## soak: ten minutes of steady mixed load; memory, open files and errors stay flat (bench/soak.md).
## SOAK_MINUTES=60 make soak: an hour on a fixed data set, to tell a leak from data growing (bench/soak-60min.md).
soak:
	dev/bench.sh soak

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## stop: stop the local homeservers the demo and the tests started.
stop:
	dev/synapse.sh stop test
	dev/synapse.sh stop faults
	dev/synapse.sh stop federation-a
	dev/synapse.sh stop federation-b
	dev/synapse.sh stop demo
	dev/synapse.sh stop bench

clean: stop
	rm -rf .dev
