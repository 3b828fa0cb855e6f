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


def axes(ax, ylabel, title):
    """Both panels: members across, starting at zero, light grid."""
    ax.set_xlabel("members in the community")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


fig, (time_ax, req_ax) = plt.subplots(1, 2, figsize=(10, 4))
time_ax.plot(members, [p["wall_s"] for p in points], "o-", label="matrix-sync")
axes(time_ax, "seconds to converge", "Convergence time")
req_ax.plot(members, [p["requests_made"] for p in points], "o-", label="made")
req_ax.plot(members, [p["requests_minimal"] for p in points], "x--", label="minimal")
axes(req_ax, "homeserver requests", "Homeserver requests")
req_ax.legend()

scale = data.get("meta", {}).get("scale", 1)
fig.suptitle(f"One community, everyone above level 0 (BENCH_SCALE={scale})")
fig.tight_layout()
fig.savefig(out, dpi=100)
