"""The report's time-to-accuracy section, its targets and its plot
(:mod:`benchmarks.bench_time_to_accuracy`)."""

from __future__ import annotations

from benchmarks.tables import by_bench, num, table

TTA = "time_to_accuracy"

TTA_METHOD = (
    "Wall-clock seconds from the start of training (libraries imported, data in host memory; "
    "device transfer, initialization, compilation and every evaluation inside) to the "
    "epoch-end evaluation whose test accuracy reached the target; medians over rounds, each "
    "job in a fresh process, the implementations of a round in a rotating order. Every "
    "implementation trains funcnn's network (equal parameter counts, asserted) from funcnn's "
    "initial parameters of the same seed, on funcnn's batches in funcnn's order, with the "
    "recipe of `funcnn.train.RECIPES` (AdamW with decay on weights, cosine schedule over the "
    "epochs bound, batch 128; dropout, and for the CNN label smoothing and augmentation, "
    "with each library's own random numbers). With several seeds funcnn runs `fit_seeds` "
    "(one vmapped program, until every seed reached the target), a peer its seeds one after "
    "another in one process (until the last reached it). `/ funcnn`: the median time over "
    "funcnn's in the same run (> 1: funcnn is faster). `first epoch` includes compilation; "
    "`process` is the whole process seen from outside (interpreter start, imports, data)."
)


def rows_of(records: list[dict]) -> list[tuple[str, int]]:
    """The ``(model, seeds)`` rows of a run, in run order."""
    return list(dict.fromkeys((r["workload"]["model"], r["workload"]["seeds"]) for r in records))


def time_cell(r: dict) -> str:
    """``12.3 [11.9-13.0] (3)`` seconds to the target, or ``not reached (best 0.652)``."""
    if not r["reached"]:
        reached = r.get("reached_rounds", 0)
        note = f", {reached}/{r['repeats']} rounds reached it" if reached else ""
        return f"not reached (best {num(r.get('best_accuracy'), '{:.3f}')}{note})"
    return f"{r['median_s']:.1f} [{r['min_s']:.1f}-{r['max_s']:.1f}] ({r['repeats']})"


def tta_table(records: list[dict]) -> list[str]:
    header = [
        "model",
        "seeds",
        "target",
        "implementation",
        "time to target s [min-max] (rounds)",
        "/ funcnn",
        "epochs",
        "first epoch s",
        "epoch s",
        "process s",
        "best acc",
        "params",
        "how",
    ]
    rows = []
    for model, seeds in rows_of(records):
        group = [
            r for r in records if (r["workload"]["model"], r["workload"]["seeds"]) == (model, seeds)
        ]
        w = group[0]["workload"]
        for r in group:
            rows.append(
                [
                    model,
                    seeds,
                    f"{w['target']:.0%}",
                    f"{r['name']} ({r['mode']})",
                    time_cell(r),
                    num(r.get("ratio")),
                    num(r.get("epochs_to_target"), "{:.0f}"),
                    num(r.get("first_epoch_s")),
                    num(r.get("epoch_s"), "{:.3f}"),
                    num(r.get("process_s"), "{:.1f}"),
                    num(r.get("best_accuracy"), "{:.3f}"),
                    r.get("param_count", "-"),
                    r.get("how", ""),
                ]
            )
        for name, why in (group[0].get("skipped") or {}).items():
            rows.append([model, seeds, f"{w['target']:.0%}", name, f"absent: {why}"] + [""] * 8)
    return [table(header, rows), ""]


def tta_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    w = rs[0]["workload"]
    out = [
        f"## time_to_accuracy: wall-clock time to a test accuracy on {w.get('dataset')}",
        "",
        TTA_METHOD,
        "",
        *tta_table(rs),
    ]
    if "time_to_accuracy" in plots:
        out += ["![time to accuracy](time_to_accuracy.png)", ""]
    return out


def tta_targets(records: list[dict]) -> list[tuple[str, str, str]]:
    """One target row per ``(model, seeds)``: funcnn reaches the target before every peer."""
    rs = by_bench(records, TTA)
    out = []
    for model, seeds in rows_of(rs):
        group = {
            r["name"]: r
            for r in rs
            if (r["workload"]["model"], r["workload"]["seeds"]) == (model, seeds)
        }
        base = group.get("funcnn")
        if base is None:
            continue
        label = f"time to {base['workload']['target']:.0%} test accuracy, {model} x{seeds}: funcnn fastest"
        if not base["reached"]:
            out.append(
                (label, f"funcnn did not reach it (best {base['best_accuracy']:.3f})", "missed")
            )
            continue
        peers = {n: r for n, r in group.items() if n != "funcnn" and r["reached"]}
        if not peers:
            out.append((label, f"funcnn {base['median_s']:.1f} s; no peer reached it", "met"))
            continue
        best = min(peers.values(), key=lambda r: r["median_s"])
        verdict = "met" if base["median_s"] < best["median_s"] else "missed"
        out.append(
            (
                label,
                f"funcnn {base['median_s']:.1f} s, fastest peer {best['name']} "
                f"{best['median_s']:.1f} s ({best['median_s'] / base['median_s']:.2f}x)",
                verdict,
            )
        )
    return out


def plot_tta(records: list[dict], path: str) -> str | None:
    """One panel per row: test accuracy against wall-clock time, every implementation (every
    seed's curve, the median round), the target dashed."""
    from benchmarks.plots import pyplot, save

    rs = by_bench(records, TTA)
    if not rs:
        return None
    rows = rows_of(rs)
    plt = pyplot()
    fig, axes = plt.subplots(1, len(rows), figsize=(4.2 * len(rows), 3.6), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = list(dict.fromkeys(r["name"] for r in rs))
    for ax, (model, seeds) in zip(axes[0], rows):
        group = [
            r for r in rs if (r["workload"]["model"], r["workload"]["seeds"]) == (model, seeds)
        ]
        for r in group:
            color = colors[names.index(r["name"]) % len(colors)]
            for i, curve in enumerate(r.get("curves") or []):
                if curve:
                    t, acc = [c[1] for c in curve], [c[2] for c in curve]
                    label = r["name"] if i == 0 else None
                    ax.plot(t, acc, "-", color=color, lw=1, alpha=0.8, label=label)
            if r["reached"]:
                ax.axvline(r["median_s"], color=color, ls=":", lw=1)
        ax.axhline(group[0]["workload"]["target"], color="k", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_title(f"{model}, {seeds} seed{'s' if seeds > 1 else ''}")
        ax.set_xlabel("wall-clock s since training started")
        ax.set_ylabel("test accuracy")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return save(fig, path)
