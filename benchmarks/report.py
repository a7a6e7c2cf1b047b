"""RESULTS.md and PNG plots from a benchmark run's ``results.json``.

``python -m benchmarks`` calls :func:`write_report` at the end of a run; to redraw the tables
and plots of an earlier run::

    python -m benchmarks.report benchmarks/results/<run>/

:func:`render` composes the Markdown from one function per part: the run's header, the
benchmarks' status, the targets, then a section per benchmark (:data:`SECTIONS`; a benchmark
without one gets :func:`generic_section`). Each part returns its lines, none where the run
has nothing to show.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from benchmarks.plots import PLOTS
from benchmarks.report_conv_rnn import (
    cnn_peers_section,
    cnn_scaling_section,
    conv_rnn_section,
    gru_peers_section,
)
from benchmarks.report_tta import tta_section
from benchmarks.tables import (
    GENERIC_COLUMNS,
    by_bench,
    gflops,
    mlp_peers,
    ms,
    num,
    paired,
    pct,
    plot_line,
    records_table,
    same_work_cell,
    sizes_label,
    table,
)
from benchmarks.targets import targets_section
from benchmarks.workloads import FLOPS_EXACT_FORMULA, FLOPS_FORMULA
from funcnn.io import read_json, write_text

# --- the run -------------------------------------------------------------------------------


def header(results: dict) -> list[str]:
    """Title, provenance and method of the run."""
    dev, ver = results["device"], results["versions"]
    step = next((r for r in results["records"] if "flops_exact_formula" in r), {})
    count = dev.get("count", dev.get("n_devices"))  # n_devices: runs before funcnn.io
    return [
        f"# funcnn benchmarks: {results['suite']} suite, {dev['device_kind']} ({results['dtype']})",
        "",
        f"- date: {results['started']}",
        f"- command: `{results['command']}`",
        f"- device: {dev['platform']} / {dev['device_kind']} x{count}; host "
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
        f"`{step.get('flops_formula', FLOPS_FORMULA)}`; `exact` counts "
        f"{step.get('flops_exact_formula', FLOPS_EXACT_FORMULA)}.",
        "",
    ]


def status_section(results: dict) -> list[str]:
    """Each benchmark's status, seconds and note."""
    status = results.get("benches", {})
    if not status:
        return []
    rows = [
        [n, s["status"], num(s.get("seconds"), "{:.1f}"), s.get("reason", "")]
        for n, s in status.items()
    ]
    return ["## Benchmarks run", "", table(["bench", "status", "seconds", "note"], rows), ""]


# --- one section per benchmark -------------------------------------------------------------


def roofline_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    columns = [
        ("n", lambda r: r["workload"]["sizes"][0]),
        ("dtype", lambda r: r["workload"]["dtype"]),
        ("median ms", lambda r: ms(r["median_s"])),
        ("min ms", lambda r: ms(r["min_s"])),
        ("GFLOP/s", lambda r: gflops(r["achieved_flops_per_s"])),
        ("best-call GFLOP/s", lambda r: gflops(r["flops"] / r["min_s"])),
        ("of best", lambda r: pct(r["fraction_of_roofline"])),
        ("compile s", lambda r: num(r["compile_s"])),
    ]
    return ["## roofline: matmul rate", "", records_table(columns, rs), ""]


def step_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    def of_paired(r):
        if "fraction_of_paired_matmul" not in r:
            return "-"
        return f"{pct(r['fraction_of_paired_matmul'])} (n={r['paired_matmul_n']})"

    columns = [
        ("sizes", lambda r: sizes_label(r["workload"])),
        ("batch", lambda r: r["workload"]["batch"]),
        ("dtype", lambda r: r["workload"]["dtype"]),
        ("median ms", lambda r: ms(r["median_s"])),
        ("min / max ms", lambda r: f"{ms(r['min_s'])} / {ms(r['max_s'])}"),
        ("repeats", lambda r: r["repeats"]),
        ("compile s", lambda r: num(r["compile_s"])),
        ("GFLOP/s (6PB)", lambda r: gflops(r.get("achieved_flops_per_s"))),
        ("of roofline", lambda r: pct(r.get("fraction_of_roofline"))),
        ("of roofline (exact)", lambda r: pct(r.get("fraction_of_roofline_exact"))),
        ("best call / best matmul", lambda r: pct(r.get("fraction_of_roofline_best"))),
        ("of paired matmul", of_paired),
    ]
    return [
        "## step: one jitted training step (forward, backward, Adam)",
        "",
        records_table(columns, rs),
        "",
        f"funcnn's step: {rs[0]['workload'].get('impl')}.",
        "",
        *plot_line(plots, "step", "step against roofline"),
    ]


PEERS_METHOD = (
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


def peers_section(records: list[dict], plots: dict[str, str]) -> list[str]:
    """The step in other libraries, then scikit-learn's epoch."""
    return peer_steps_section(mlp_peers(records), plots) + sklearn_section(records)


def peer_steps_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    if not rs:
        return []

    def first_call(r):  # compile_s is the time of a first call (no AOT path)
        return "first call" in r.get("compile_method", "")

    columns = [
        (
            "workload",
            lambda r: (
                f"{sizes_label(r['workload'])} B={r['workload']['batch']} {r['workload']['dtype']}"
            ),
        ),
        ("contender", lambda r: r["name"]),
        ("median ms", lambda r: ms(r["median_s"])),
        ("ratio", lambda r: num(r["ratio"])),
        ("paired", lambda r: num(paired(r))),
        ("compile s", lambda r: num(r["compile_s"]) + ("*" if first_call(r) else "")),
        ("same work", same_work_cell),
        ("how", lambda r: r.get("how", "")),
    ]
    out = ["## peers: the same step in other libraries", "", PEERS_METHOD, ""]
    out += [records_table(columns, rs), ""]
    if any(first_call(r) for r in rs):
        out += ["`*`: first-call time (trace, compile and one step): no AOT path used.", ""]
    if any(r.get("cooldown_s") for r in rs):
        out += [
            "The pauses between calls let the thread pools go idle, so every contender "
            "here pays a wake-up on each call: read the ratios in this table, and funcnn's "
            "absolute step times in the step section.",
            "",
        ]
    skipped = {k: v for r in rs for k, v in (r.get("skipped") or {}).items()}
    if skipped:
        out += ["Skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()), ""]
    return out + plot_line(plots, "peers", "peers")


def sklearn_section(records: list[dict]) -> list[str]:
    rs = [r for r in by_bench(records, "peers") if r["workload"].get("model") == "mlp_epoch"]
    if not rs:
        return []
    w = rs[0]["workload"]
    columns = [
        ("contender", lambda r: r["name"]),
        ("median ms / epoch", lambda r: ms(r["median_s"])),
        ("ratio", lambda r: num(r["ratio"])),
        ("test accuracy", lambda r: num(r.get("test_accuracy"), "{:.3f}")),
        ("epochs", lambda r: r.get("epochs_trained")),
        ("how", lambda r: r.get("how", "")),
    ]
    return [
        f"### scikit-learn on {w.get('dataset')}: one epoch, {sizes_label(w)}, batch {w['batch']}",
        "",
        records_table(columns, rs),
        "",
    ]


def scaling_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    columns = [
        ("sweep", lambda r: r.get("sweep")),
        ("value", lambda r: r.get("x")),
        ("sizes", lambda r: sizes_label(r["workload"])),
        ("batch", lambda r: r["workload"]["batch"]),
        ("median ms", lambda r: ms(r["median_s"])),
        ("GFLOP/s", lambda r: gflops(r.get("achieved_flops_per_s"))),
        ("of roofline", lambda r: pct(r.get("fraction_of_roofline"))),
        ("of paired matmul", lambda r: pct(r.get("fraction_of_paired_matmul"))),
    ]
    return [
        "## scaling: step time against width and batch",
        "",
        records_table(columns, rs),
        "",
        *plot_line(plots, "scaling", "scaling"),
    ]


def manual_vs_autodiff_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    return generic_section("manual_vs_autodiff", rs)


def loop_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    return generic_section("loop", rs)


def generic_section(bench: str, rs: list[dict]) -> list[str]:
    """A benchmark without a section of its own: one row per record."""
    return [f"## {bench}", "", records_table(GENERIC_COLUMNS, rs), ""]


SECTIONS = {
    "roofline": roofline_section,
    "step": step_section,
    "peers": peers_section,
    "scaling": scaling_section,
    "manual_vs_autodiff": manual_vs_autodiff_section,
    "conv_rnn": conv_rnn_section,
    "gru_peers": gru_peers_section,
    "cnn_peers": cnn_peers_section,
    "cnn_scaling": cnn_scaling_section,
    "loop": loop_section,
    "time_to_accuracy": tta_section,
}
"""bench -> ``section(its records, plots) -> lines``, in the order of the report."""


def render(results: dict, plots: dict[str, str]) -> str:
    """The text of RESULTS.md for a run's ``results.json`` content."""
    records = results["records"]
    out = header(results) + status_section(results) + targets_section(records)
    for bench, section in SECTIONS.items():
        if by_bench(records, bench):
            out += section(by_bench(records, bench), plots)
    for bench in dict.fromkeys(r.get("bench") for r in records if r.get("bench") not in SECTIONS):
        out += generic_section(bench, by_bench(records, bench))
    return "\n".join(out).rstrip() + "\n"


def write_report(out_dir: str, results: dict | None = None) -> dict[str, str]:
    """Write plots and RESULTS.md for ``out_dir/results.json`` (or the ``results`` given).

    Returns:
        name -> path of every file written.
    """
    if results is None:
        results = read_json(os.path.join(out_dir, "results.json"), what="benchmark results")
    plots = {}
    for name, plot in PLOTS.items():
        path = plot(results["records"], os.path.join(out_dir, f"{name}.png"))
        if path:
            plots[name] = path
    md = write_text(os.path.join(out_dir, "RESULTS.md"), render(results, plots))
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
