"""The PNG plots of the benchmark report, drawn from a run's records (matplotlib, Agg)."""

from __future__ import annotations

import functools

from benchmarks.tables import by_bench, mlp_key, mlp_peers, sizes_label
from benchmarks.targets import TARGET_LARGE_FRACTION
from funcnn.io import save_figure


def pyplot():
    """matplotlib.pyplot with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str) -> str:
    """Write ``fig`` to ``path`` atomically and close it; returns ``path``."""
    try:
        save_figure(fig, path)
    finally:
        pyplot().close(fig)
    return path


def plot_scaling(records: list[dict], path: str) -> str | None:
    """Log-log step time against width and against batch, with the roofline-bound time."""
    pts = by_bench(records, "scaling")
    if not pts:
        return None
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 4))
    for ax, sweep, fixed in ((axes[0], "width", "batch"), (axes[1], "batch", "width")):
        rs = sorted((r for r in pts if r.get("sweep") == sweep), key=lambda r: r["x"])
        if not rs:
            ax.set_visible(False)
            continue
        xs = [r["x"] for r in rs]
        ax.loglog(xs, [r["median_s"] for r in rs], "o-", label="funcnn step (median)")
        ax.fill_between(xs, [r["min_s"] for r in rs], [r["max_s"] for r in rs], alpha=0.2)
        if all("paired_matmul_flops_per_s" in r for r in rs):
            n = rs[0]["paired_matmul_n"]
            bound = [r["flops"] / r["paired_matmul_flops_per_s"] for r in rs]
            ax.loglog(xs, bound, "k--", label=f"6PB at the rate of a {n}^3 matmul (same rounds)")
        elif rs[0].get("roofline_flops_per_s"):
            roof = rs[0]["roofline_flops_per_s"]
            ax.loglog(xs, [r["flops"] / roof for r in rs], "k--", label="6PB / roofline")
        w = rs[0]["workload"]
        other = w["batch"] if sweep == "width" else w["sizes"][1]
        ax.set_title(f"step time vs {sweep} ({fixed} {other}, {w['dtype']})")
        ax.set_xlabel(sweep)
        ax.set_ylabel("seconds per step")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper left", fontsize=7)
    fig.suptitle(f"funcnn MLP step on {pts[0]['device']['device_kind']}")
    fig.tight_layout()
    return save(fig, path)


def plot_step(records: list[dict], path: str) -> str | None:
    """Bar chart: each step workload's fraction of the matmul roofline."""
    rs = [r for r in by_bench(records, "step") if "fraction_of_roofline" in r]
    if not rs:
        return None
    fig, ax = pyplot().subplots(figsize=(max(5, 1.3 * len(rs)), 3.5))
    labels = [f"{sizes_label(r['workload'])}\nB={r['workload']['batch']}" for r in rs]
    xs = list(range(len(rs)))
    ax.bar([x - 0.2 for x in xs], [r["fraction_of_roofline"] for r in rs], 0.4, label="of roofline")
    paired = [r.get("fraction_of_paired_matmul", 0.0) for r in rs]
    if any(paired):
        ax.bar([x + 0.2 for x in xs], paired, 0.4, label="of a square matmul, same rounds")
    ax.axhline(TARGET_LARGE_FRACTION, color="k", ls="--", lw=1, label="target 85%")
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_ylabel("step FLOP rate (6PB) / matmul rate")
    ax.legend(fontsize=7)
    ax.set_title("funcnn training step against the roofline")
    fig.tight_layout()
    return save(fig, path)


def plot_peers(records: list[dict], path: str) -> str | None:
    """Grouped bars: each contender's time relative to funcnn, per workload."""
    rs = mlp_peers(records)
    if not rs:
        return None
    keys = sorted({mlp_key(r) for r in rs})
    names = list(dict.fromkeys(r["name"] for r in rs))
    fig, ax = pyplot().subplots(figsize=(min(11, max(6, 0.8 * len(names) * len(keys))), 3.8))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        ratio = {r["name"]: r["ratio"] for r in rs if mlp_key(r) == key}
        xs = [j + i * width for j, n in enumerate(names) if n in ratio]
        ax.bar(
            xs,
            [ratio[n] for n in names if n in ratio],
            width,
            label=f"{'-'.join(map(str, key[0]))} B={key[1]}",
        )
    ax.axhline(1.0, color="k", lw=1)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], names, fontsize=8)
    ax.set_ylabel("time / funcnn's time (same run)")
    ax.set_title("the same training step in other libraries")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def plot_net_peers(records: list[dict], path: str, bench: str) -> str | None:
    """Bars: each contender's time relative to funcnn's on one network's step (gru_peers,
    cnn_peers)."""
    rs = by_bench(records, bench)
    if not rs:
        return None
    fig, ax = pyplot().subplots(figsize=(max(5, 0.9 * len(rs)), 3.6))
    xs = list(range(len(rs)))
    ax.bar(xs, [r["ratio"] for r in rs], 0.6)
    ax.axhline(1.0, color="k", lw=1)
    ax.set_xticks(xs, [r["name"] for r in rs], fontsize=8, rotation=20)
    ax.set_ylabel("time / funcnn's time (same run)")
    w = rs[0]["workload"]
    ax.set_title(f"{w['model']} {sizes_label(w)} step, batch {w['batch']}, {w['dtype']}")
    fig.tight_layout()
    return save(fig, path)


def plot_cnn_scaling(records: list[dict], path: str) -> str | None:
    """Log-log CNN step time against batch (a line per channel multiplier and gradient), and
    the achieved FLOP rate against the FLOPs per step beside the matmul rates."""
    rs = by_bench(records, "cnn_scaling")
    if not rs:
        return None
    fig, (ax_t, ax_r) = pyplot().subplots(1, 2, figsize=(11, 4.2))
    mults = sorted({r["channel_multiplier"] for r in rs})
    colors = pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    for i, m in enumerate(mults):
        for grad, style in (("autodiff", "o-"), ("manual", "s--")):
            pts = sorted(
                (r for r in rs if r["channel_multiplier"] == m and r["grad"] == grad),
                key=lambda r: r["workload"]["batch"],
            )
            color = colors[i % len(colors)]
            label = f"x{m:g} {grad}"
            ax_t.loglog(
                [r["workload"]["batch"] for r in pts],
                [r["median_s"] for r in pts],
                style,
                color=color,
                label=label,
            )
            ax_r.loglog(
                [r["flops"] for r in pts],
                [r["achieved_flops_per_s"] for r in pts],
                style,
                color=color,
            )  # the lines are named in the left panel's legend
    roof = rs[0].get("roofline_flops_per_s")
    if roof:
        ax_r.axhline(roof, color="k", ls="--", lw=1, label="matmul roofline")
    paired = [r["paired_matmul_flops_per_s"] for r in rs if "paired_matmul_flops_per_s" in r]
    if paired:
        n = rs[0]["paired_matmul_n"]
        ax_r.axhline(sorted(paired)[len(paired) // 2], color="gray", ls=":", lw=1,
                     label=f"{n}^3 matmul, same rounds (median)")  # fmt: skip
    batches = sorted({r["workload"]["batch"] for r in rs})
    ax_t.set_xticks(batches, [str(b) for b in batches])
    ax_t.minorticks_off()
    w = rs[0]["workload"]
    ax_t.set_title(f"CNN step time vs batch ({w['dtype']}; x = channel multiplier)")
    ax_t.set_xlabel("batch")
    ax_t.set_ylabel("seconds per step")
    ax_r.set_title("achieved FLOP rate vs work per step")
    ax_r.set_xlabel("FLOPs per step")
    ax_r.set_ylabel("FLOP/s")
    for ax, where in ((ax_t, "upper left"), (ax_r, "lower right")):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6, ncol=2, loc=where)
    fig.suptitle(f"funcnn CNN step on {rs[0]['device']['device_kind']}")
    fig.tight_layout()
    return save(fig, path)


def plot_time_to_accuracy(records: list[dict], path: str) -> str | None:
    from benchmarks.report_tta import plot_tta

    return plot_tta(records, path)


PLOTS = {
    "step": plot_step,
    "peers": plot_peers,
    "scaling": plot_scaling,
    "gru_peers": functools.partial(plot_net_peers, bench="gru_peers"),
    "cnn_peers": functools.partial(plot_net_peers, bench="cnn_peers"),
    "cnn_scaling": plot_cnn_scaling,
    "time_to_accuracy": plot_time_to_accuracy,
}
"""name -> ``plot(records, path) -> path or None`` (None: nothing to draw)."""
