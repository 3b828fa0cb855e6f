"""The growth chart of `make bench`: convergence time and homeserver requests
against community size, with the minimal request count beside them."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, out = sys.argv[1], sys.argv[2]
with open(results) as f:
    data = json.load(f)
points = data.get("growth") or []
if not points:
    print("no growth figures in " + results + "; no chart")
    sys.exit(0)
members = [p["members"] for p in points]

fig, (time_ax, req_ax) = plt.subplots(1, 2, figsize=(10, 4))
time_ax.plot(members, [p["wall_s"] for p in points], "o-", label="matrix-sync")
time_ax.set_xlabel("members in the community")
time_ax.set_ylabel("seconds to converge")
time_ax.set_title("Convergence time")
time_ax.set_xlim(left=0)
time_ax.set_ylim(bottom=0)
time_ax.grid(alpha=0.3)

req_ax.plot(members, [p["requests_made"] for p in points], "o-", label="made")
req_ax.plot(members, [p["requests_minimal"] for p in points], "x--", label="minimal")
req_ax.set_xlabel("members in the community")
req_ax.set_ylabel("homeserver requests")
req_ax.set_title("Homeserver requests")
req_ax.set_xlim(left=0)
req_ax.set_ylim(bottom=0)
req_ax.grid(alpha=0.3)
req_ax.legend()

scale = data.get("meta", {}).get("scale", 1)
fig.suptitle(f"One community, everyone above level 0 (BENCH_SCALE={scale})")
fig.tight_layout()
fig.savefig(out, dpi=100)
