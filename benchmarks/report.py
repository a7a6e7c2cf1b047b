"""RESULTS.md and PNG plots from a benchmark run's ``results.json``.

``python -m benchmarks`` calls :func:`write_report` at the end of a run; to redraw the tables
and plots of an earlier run::

    python -m benchmarks.report benchmarks/results/<run>/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks import common

# Targets the issue states for CPU (read against this run's own roofline and baselines).
TARGET_LARGE_FRACTION = 0.85
TARGET_PEER_RATIO = 1.05
TARGET_MANUAL_RATIO = 1.0
JAX_PEERS = ("haiku", "flax_linen", "flax_nnx", "equinox")  # funcnn_jit is funcnn's own
LARGE_CPU = [784, 1024, 1024, 10]
MNIST1D = [40, 256, 256, 10]


def _ms(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e3:.3f}" if s < 0.1 else f"{s * 1e3:.1f}"


def _num(x: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _gf(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e9:.1f}"


def _sizes(w: dict) -> str:
    s = w.get("sizes")
    if not s:
        return "-"
    return "x".join(map(str, s)) if w.get("model") == "matmul" else "-".join(map(str, s))


def _table(header: Sequence[str], rows: list[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _same_work(r: dict) -> str:
    sw = r.get("same_work")
    if not sw:
        return "-"
    out = f"ok, max err {sw['max_rel_err']:.2f} tol"
    if sw.get("outliers"):
        out += f", {sw['outliers']}/{sw['elements']} params within 2 lr"
    return out


def _paired(r: dict):
    return r.get("ratio_paired", r.get("paired_ratio"))


def _by(records, bench):
    return [r for r in records if r.get("bench") == bench]


# --- targets -------------------------------------------------------------------------------


def targets(records: list[dict]) -> list[tuple[str, str, str]]:
    """``(target, measured, verdict)`` rows for the issue's targets this run can speak to."""
    rows = []
    roof = [r for r in _by(records, "roofline") if r.get("is_roofline")]
    for r in roof:
        rows.append(
            (
                f"matmul roofline ({r['workload']['dtype']})",
                f"{_gf(r['achieved_flops_per_s'])} GFLOP/s (median) at n={r['workload']['sizes'][0]};"
                f" best call {_gf(max(q['flops'] / q['min_s'] for q in _by(records, 'roofline')))}"
                " GFLOP/s",
                "measured",
            )
        )
    for r in _by(records, "step"):
        if r["workload"]["sizes"] == LARGE_CPU and "fraction_of_roofline" in r:
            f, fe = r["fraction_of_roofline"], r.get("fraction_of_roofline_exact")
            rows.append(
                (
                    f"large step {_sizes(r['workload'])} batch {r['workload']['batch']} >= "
                    f"{TARGET_LARGE_FRACTION:.0%} of roofline",
                    f"{_pct(f)} (medians, 6PB count); {_pct(fe)} counting exact matmuls; "
                    f"{_pct(r.get('fraction_of_roofline_best'))} best call / best matmul call; "
                    f"{_pct(r.get('fraction_of_paired_matmul'))} of a "
                    f"{r.get('paired_matmul_n')}^3 matmul timed in the same rounds",
                    "met" if f >= TARGET_LARGE_FRACTION else "missed",
                )
            )
    peers = [r for r in _by(records, "peers") if r["workload"].get("model") == "mlp"]
    for key in sorted({(tuple(r["workload"]["sizes"]), r["workload"]["batch"]) for r in peers}):
        group = [r for r in peers if (tuple(r["workload"]["sizes"]), r["workload"]["batch"]) == key]
        label = f"{'-'.join(map(str, key[0]))} batch {key[1]}"
        jax_peers = [r for r in group if r["name"] in JAX_PEERS]
        if jax_peers:
            best = min(jax_peers, key=lambda r: r["ratio"])
            funcnn_over_best = 1.0 / best["ratio"]
            rows.append(
                (
                    f"{label}: funcnn / fastest JAX peer <= {TARGET_PEER_RATIO}",
                    f"{funcnn_over_best:.2f} (fastest: {best['name']})",
                    "met" if funcnn_over_best <= TARGET_PEER_RATIO else "missed",
                )
            )
            own = [r for r in group if r["name"] == "funcnn_jit"]
            if own:
                rows.append(
                    (
                        f"{label}: funcnn's model and loss in a plain jitted step (outside the engine) "
                        "/ fastest JAX peer",
                        f"{own[0]['ratio'] / best['ratio']:.2f}",
                        "info",
                    )
                )
        eager = [r for r in group if r["name"] == "torch_eager"]
        if eager:
            rows.append(
                (
                    f"{label}: funcnn faster than PyTorch eager",
                    f"torch eager takes {eager[0]['ratio']:.2f}x funcnn's time",
                    "met" if eager[0]["ratio"] > 1.0 else "missed",
                )
            )
    for r in _by(records, "manual_vs_autodiff"):
        if "ratio" in r and r["name"] != r["baseline"]:
            rows.append(
                (
                    f"manual / autodiff {_sizes(r['workload'])} batch {r['workload'].get('batch')}"
                    f" <= {TARGET_MANUAL_RATIO}",
                    f"{r['ratio']:.2f} ({r['name']} vs {r['baseline']})",
                    "met" if r["ratio"] <= TARGET_MANUAL_RATIO else "missed",
                )
            )
    return rows


# --- plots ---------------------------------------------------------------------------------


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_scaling(records: list[dict], path: str) -> str | None:
    """Log-log step time against width and against batch, with the roofline-bound time."""
    pts = _by(records, "scaling")
    if not pts:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, sweep, fixed in (
        (axes[0], "width", "batch"),
        (axes[1], "batch", "width"),
    ):
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
    fig.suptitle(f"funcnn MLP step on {rs[0]['device']['device_kind']}")
    fig.tight_layout()
    common.save_figure_atomic(fig, path)
    plt.close(fig)
    return path


def plot_step(records: list[dict], path: str) -> str | None:
    """Bar chart: each step workload's fraction of the matmul roofline."""
    rs = [r for r in _by(records, "step") if "fraction_of_roofline" in r]
    if not rs:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 1.3 * len(rs)), 3.5))
    labels = [f"{_sizes(r['workload'])}\nB={r['workload']['batch']}" for r in rs]
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
    common.save_figure_atomic(fig, path)
    plt.close(fig)
    return path


def plot_peers(records: list[dict], path: str) -> str | None:
    """Grouped bars: each contender's time relative to funcnn, per workload."""
    rs = [r for r in _by(records, "peers") if r["workload"].get("model") == "mlp"]
    if not rs:
        return None
    plt = _plt()
    keys = sorted({(tuple(r["workload"]["sizes"]), r["workload"]["batch"]) for r in rs})
    names = list(dict.fromkeys(r["name"] for r in rs))
    fig, ax = plt.subplots(figsize=(min(11, max(6, 0.8 * len(names) * len(keys))), 3.8))
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        ratio = {
            r["name"]: r["ratio"]
            for r in rs
            if (tuple(r["workload"]["sizes"]), r["workload"]["batch"]) == key
        }
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
    common.save_figure_atomic(fig, path)
    plt.close(fig)
    return path


# --- markdown ------------------------------------------------------------------------------


def _generic_table(rs: list[dict]) -> str:
    rows = []
    for r in rs:
        w = r["workload"]
        rows.append(
            [
                r["name"],
                w.get("model", "-"),
                _sizes(w),
                w.get("batch") if w.get("batch") is not None else "-",
                w.get("dtype", "-"),
                _ms(r["median_s"]),
                f"{_ms(r['min_s'])} / {_ms(r['max_s'])}",
                r["repeats"],
                _num(r.get("compile_s")),
                (
                    f"{_num(r.get('ratio'))} vs {r['baseline']}"
                    + (f" (paired {_num(_paired(r))})" if _paired(r) is not None else "")
                )
                if "ratio" in r
                else "-",
            ]
        )
    return _table(
        [
            "name",
            "model",
            "sizes",
            "batch",
            "dtype",
            "median ms",
            "min / max ms",
            "repeats",
            "compile s",
            "ratio",
        ],
        rows,
    )


def markdown(results: dict, plots: dict[str, str]) -> str:
    """The text of RESULTS.md for a run's ``results.json`` content."""
    records = results["records"]
    dev = results["device"]
    ver = results["versions"]
    out = [
        f"# funcnn benchmarks: {results['suite']} suite, {dev['device_kind']} ({results['dtype']})",
        "",
        f"- date: {results['started']}",
        f"- command: `{results['command']}`",
        f"- device: {dev['platform']} / {dev['device_kind']} x{dev['n_devices']}; host "
        f"{dev.get('host_cpu')} with {dev.get('host_cores')} cores",
        f"- environment: {dev.get('env') or 'no XLA/BLAS/OpenMP variables set'}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in ver.items() if v),
        f"- wall time of the whole suite: {results['wall_s']:.0f} s",
        f"- host load average (1, 5, 15 min) at start: {results.get('load_avg_start')}, at end: "
        f"{results.get('load_avg_end')}",
        "",
        "Method: compile timed apart (`.lower(...).compile()`, or the first call where a "
        "library offers no AOT path, as marked); warm-up calls untimed; every timed call "
        "blocked until ready; medians of >= 20 calls; contenders that are compared are timed "
        "interleaved in the same run and checked to compute the same losses and parameters "
        "from the same initial weights and batch. FLOPs of a training step are counted as "
        f"`{common.FLOPS_FORMULA}`; `exact` counts {common.FLOPS_EXACT_FORMULA}.",
        "",
    ]
    status = results.get("benches", {})
    if status:
        out += ["## Benchmarks run", ""]
        out.append(
            _table(
                ["bench", "status", "seconds", "note"],
                [
                    [n, s["status"], _num(s.get("seconds"), "{:.1f}"), s.get("reason", "")]
                    for n, s in status.items()
                ],
            )
        )
        out.append("")
    rows = targets(records)
    if rows:
        out += ["## Targets", "", _table(["target", "measured", "verdict"], rows), ""]

    roof = _by(records, "roofline")
    if roof:
        out += ["## roofline: matmul rate", ""]
        out.append(
            _table(
                [
                    "n",
                    "dtype",
                    "median ms",
                    "min ms",
                    "GFLOP/s",
                    "best-call GFLOP/s",
                    "of best",
                    "compile s",
                ],
                [
                    [
                        r["workload"]["sizes"][0],
                        r["workload"]["dtype"],
                        _ms(r["median_s"]),
                        _ms(r["min_s"]),
                        _gf(r["achieved_flops_per_s"]),
                        _gf(r["flops"] / r["min_s"]),
                        _pct(r["fraction_of_roofline"]),
                        _num(r["compile_s"]),
                    ]
                    for r in roof
                ],
            )
        )
        out.append("")
    step = _by(records, "step")
    if step:
        out += ["## step: one jitted training step (forward, backward, Adam)", ""]
        out.append(
            _table(
                [
                    "sizes",
                    "batch",
                    "dtype",
                    "median ms",
                    "min / max ms",
                    "repeats",
                    "compile s",
                    "GFLOP/s (6PB)",
                    "of roofline",
                    "of roofline (exact)",
                    "best call / best matmul",
                    "of paired matmul",
                ],
                [
                    [
                        _sizes(r["workload"]),
                        r["workload"]["batch"],
                        r["workload"]["dtype"],
                        _ms(r["median_s"]),
                        f"{_ms(r['min_s'])} / {_ms(r['max_s'])}",
                        r["repeats"],
                        _num(r["compile_s"]),
                        _gf(r.get("achieved_flops_per_s")),
                        _pct(r.get("fraction_of_roofline")),
                        _pct(r.get("fraction_of_roofline_exact")),
                        _pct(r.get("fraction_of_roofline_best")),
                        (
                            f"{_pct(r['fraction_of_paired_matmul'])} (n={r['paired_matmul_n']})"
                            if "fraction_of_paired_matmul" in r
                            else "-"
                        ),
                    ]
                    for r in step
                ],
            )
        )
        impl = step[0]["workload"].get("impl")
        out += ["", f"funcnn's step: {impl}.", ""]
        if "step" in plots:
            out += [f"![step against roofline]({os.path.basename(plots['step'])})", ""]
    peers = [r for r in _by(records, "peers") if r["workload"].get("model") == "mlp"]
    if peers:
        out += ["## peers: the same step in other libraries", ""]
        out.append(
            "Ratio = the contender's median / funcnn's median in the same interleaved run "
            "(> 1: funcnn is faster); `paired` is the median of per-round ratios. `same work`: "
            "three steps from funcnn's initial weights on the same batch gave the same losses, "
            "and the first step the same parameters; `max err` is the largest |difference| / "
            "(atol + rtol |value|); up to 0.1% of parameters whose gradient is at rounding "
            "level may differ by up to two learning rates (Adam's step is about lr whatever "
            "the gradient's size). Rounds call the contenders in a fresh random order; with PyTorch "
            "in the group every call is followed by an untimed pause (`cooldown_s` in the "
            "JSON) so its spinning OpenMP workers do not steal the next call's cores."
        )
        out.append("")
        out.append(
            _table(
                [
                    "workload",
                    "contender",
                    "median ms",
                    "ratio",
                    "paired",
                    "compile s",
                    "same work",
                    "how",
                ],
                [
                    [
                        f"{_sizes(r['workload'])} B={r['workload']['batch']} {r['workload']['dtype']}",
                        r["name"],
                        _ms(r["median_s"]),
                        _num(r["ratio"]),
                        _num(_paired(r)),
                        _num(r["compile_s"])
                        + ("*" if "first call" in r.get("compile_method", "") else ""),
                        _same_work(r),
                        r.get("how", ""),
                    ]
                    for r in peers
                ],
            )
        )
        out.append("")
        if any("first call" in r.get("compile_method", "") for r in peers):
            out += ["`*`: first-call time (trace, compile and one step): no AOT path used.", ""]
        if any(r.get("cooldown_s") for r in peers):
            out += [
                "The pauses between calls let the thread pools go idle, so every contender "
                "here pays a wake-up on each call: read the ratios in this table, and funcnn's "
                "absolute step times in the step section.",
                "",
            ]
        skipped = {k: v for r in peers for k, v in (r.get("skipped") or {}).items()}
        if skipped:
            out += ["Skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()), ""]
        if "peers" in plots:
            out += [f"![peers]({os.path.basename(plots['peers'])})", ""]
    sk = [r for r in _by(records, "peers") if r["workload"].get("model") == "mlp_epoch"]
    if sk:
        w = sk[0]["workload"]
        out += [
            f"### scikit-learn on {w.get('dataset')}: one epoch, {_sizes(w)}, batch {w['batch']}",
            "",
            _table(
                ["contender", "median ms / epoch", "ratio", "test accuracy", "epochs", "how"],
                [
                    [
                        r["name"],
                        _ms(r["median_s"]),
                        _num(r["ratio"]),
                        _num(r.get("test_accuracy"), "{:.3f}"),
                        r.get("epochs_trained"),
                        r.get("how", ""),
                    ]
                    for r in sk
                ],
            ),
            "",
        ]
    scaling = _by(records, "scaling")
    if scaling:
        out += ["## scaling: step time against width and batch", ""]
        out.append(
            _table(
                [
                    "sweep",
                    "value",
                    "sizes",
                    "batch",
                    "median ms",
                    "GFLOP/s",
                    "of roofline",
                    "of paired matmul",
                ],
                [
                    [
                        r.get("sweep"),
                        r.get("x"),
                        _sizes(r["workload"]),
                        r["workload"]["batch"],
                        _ms(r["median_s"]),
                        _gf(r.get("achieved_flops_per_s")),
                        _pct(r.get("fraction_of_roofline")),
                        _pct(r.get("fraction_of_paired_matmul")),
                    ]
                    for r in scaling
                ],
            )
        )
        out.append("")
        if "scaling" in plots:
            out += [f"![scaling]({os.path.basename(plots['scaling'])})", ""]
    known = {"roofline", "step", "peers", "scaling"}
    for bench in dict.fromkeys(r.get("bench") for r in records):
        if bench in known:
            continue
        out += [f"## {bench}", "", _generic_table(_by(records, bench)), ""]
    return "\n".join(out).rstrip() + "\n"


def write_report(out_dir: str, results: dict | None = None) -> dict[str, str]:
    """Write plots and RESULTS.md for ``out_dir/results.json`` (or the ``results`` given).

    Returns:
        name -> path of every file written.
    """
    if results is None:
        with open(os.path.join(out_dir, "results.json")) as f:
            results = json.load(f)
    records = results["records"]
    plots = {}
    for name, fn in (("step", plot_step), ("peers", plot_peers), ("scaling", plot_scaling)):
        path = fn(records, os.path.join(out_dir, f"{name}.png"))
        if path:
            plots[name] = path
    md = common.write_text_atomic(os.path.join(out_dir, "RESULTS.md"), markdown(results, plots))
    return {**plots, "markdown": md}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.report", description="Redraw RESULTS.md and plots of a run."
    )
    parser.add_argument("run_dir", help="a directory holding results.json")
    args = parser.parse_args(argv)
    if not os.path.isfile(os.path.join(args.run_dir, "results.json")):
        print(f"error: {args.run_dir}/results.json does not exist", file=sys.stderr)
        return 2
    for name, path in write_report(args.run_dir).items():
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
