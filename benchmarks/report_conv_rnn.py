"""The report's sections for the CNN and GRU benchmarks (:mod:`benchmarks.bench_conv_rnn`,
:mod:`benchmarks.bench_gru_peers`, :mod:`benchmarks.bench_cnn_peers`,
:mod:`benchmarks.bench_cnn_scaling`): one function per section, each returning its lines."""

from __future__ import annotations

from benchmarks.tables import (
    gflops,
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

CONV_RNN_METHOD = (
    "`manual` is the engine's step with `grad=\"manual\"` (funcnn's hand-written backward: "
    "the convolution's weight gradient tap by tap, BPTT as a reverse `lax.scan`), `autodiff` "
    "with `grad=\"autodiff\"` (`jax.value_and_grad`). Ratio = manual's median / autodiff's "
    "median in the same interleaved run (< 1: the hand-written gradient is faster); `paired` "
    "is the median of per-round ratios. Before timing, the gradients agreed on the batch "
    "(dropout key given; `grad err`: gradcheck's largest relative error) and the compiled "
    "steps gave the same losses and parameters from the same state."
)


def model_label(w: dict) -> str:
    """``cnn 40-64-64-128-128-10`` or ``gru 40-192-10 (20x2, H=96)``."""
    label = f"{w['model']} {sizes_label(w)}"
    if "sequence" in w:
        label += f" ({w['sequence'][0]}x{w['sequence'][1]}, H={w['hidden']})"
    return label


def manual_and_autodiff(rs: list[dict], part: str) -> list[tuple[dict, dict]]:
    """``(manual, autodiff)`` record pairs of one part ("step" or "epoch"), in run order."""
    own = [r for r in rs if r["workload"].get("part") == part]
    base = {r["name"]: r for r in own if r.get("grad") == "autodiff"}
    return [(r, base[r["baseline"]]) for r in own if r.get("grad") == "manual"]


def pair_cells(m: dict, a: dict) -> list[str]:
    """Times, ratios, compile times and the same-work check of a manual/autodiff pair."""
    return [
        ms(m["median_s"]),
        ms(a["median_s"]),
        num(m["ratio"]),
        num(paired(m)),
        f"{num(m['compile_s'], '{:.1f}')} / {num(a['compile_s'], '{:.1f}')}",
        same_work_cell(m),
    ]


TIMES = ["manual ms", "autodiff ms", "manual / autodiff", "paired", "compile s (m / a)"]


def conv_rnn_step_section(rs: list[dict]) -> list[str]:
    pairs = manual_and_autodiff(rs, "step")
    if not pairs:
        return []
    rows = [
        [
            model_label(m["workload"]),
            m["workload"]["batch"],
            m["workload"]["dtype"],
            *pair_cells(m, a),
            num(m.get("grad_max_rel_err"), "{:.1e}"),
        ]
        for m, a in pairs
    ]
    header = ["model", "batch", "dtype", *TIMES, "same work", "grad err"]
    return ["### One jitted training step", "", table(header, rows), ""]


def conv_rnn_epoch_section(rs: list[dict]) -> list[str]:
    pairs = manual_and_autodiff(rs, "epoch")
    if not pairs:
        return []

    def per_step(r):
        return ms(r["median_s"] / r["workload"]["steps_per_call"])

    rows = [
        [
            model_label(m["workload"]),
            f"{m['workload']['steps_per_call']} x {m['workload']['batch']}",
            *pair_cells(m, a),
            f"{per_step(m)} / {per_step(a)}",
        ]
        for m, a in pairs
    ]
    header = ["model", "batches x batch", *TIMES, "same work", "ms per step (m / a)"]
    return [
        "### One scanned epoch (`make_epoch`: shuffle, then the step under `lax.scan`)",
        "",
        table(header, rows),
        "",
        "XLA's CPU backend runs the weight-gradient convolution autodiff emits far slower "
        "inside a `lax.scan` body than outside (jax-ml/jax#12868); the hand-written tap-by-tap "
        "correlation has no such cliff: compare the per-step times with the step above.",
        "",
    ]


MEMORY_COLUMNS = {
    "argument_bytes": "arguments",
    "output_bytes": "outputs",
    "alias_bytes": "aliased",
    "temp_bytes": "temporaries",
    "total_bytes": "total",
    "peak_bytes_reported": "peak (reported)",
}
"""Memory record field -> its column."""


def mib(b: int | None) -> str:
    return "-" if b is None else f"{b / 2**20:.2f}"


def conv_rnn_memory_section(rs: list[dict]) -> list[str]:
    rows = []
    for part in ("step", "epoch"):
        for m, a in manual_and_autodiff(rs, part):
            mm, am = m.get("memory") or {}, a.get("memory") or {}
            ratio = None
            if mm.get("total_bytes") and am.get("total_bytes"):
                ratio = mm["total_bytes"] / am["total_bytes"]
            for r, mem in ((m, mm), (a, am)):
                rows.append(
                    [
                        model_label(r["workload"]),
                        part,
                        r["grad"],
                        *(mib(mem.get(k)) for k in MEMORY_COLUMNS),
                        num(ratio) if r is m else "",
                    ]
                )
    if not rows:
        return []
    header = ["model", "part", "grad", *MEMORY_COLUMNS.values(), "total m / a"]
    return [
        "### Memory of the compiled programs (XLA's memory analysis, MiB)",
        "",
        table(header, rows),
        "",
        "`total` = arguments + outputs - aliased (the donated state the outputs reuse) + "
        "temporaries: the buffers XLA assigns for one call; `peak (reported)` is the "
        "backend's own figure (`-`: none given; XLA's CPU backend leaves the temporaries out "
        "of it). For the GRU, `manual` keeps every state and gate of the forward scan for "
        "the hand-written BPTT, `autodiff` the residuals JAX saves through the scan.",
        "",
    ]


def conv_rnn_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    """Hand-written against autodiff for the CNN and the GRU: step, epoch, memory."""
    return [
        "## conv_rnn: hand-written backward vs autodiff, CNN and bidirectional GRU",
        "",
        CONV_RNN_METHOD,
        "",
        *conv_rnn_step_section(rs),
        *conv_rnn_epoch_section(rs),
        *conv_rnn_memory_section(rs),
    ]


def net_peers_section(bench: str, rs: list[dict], what: str, method: str) -> list[str]:
    """A network's step in other libraries (gru_peers, cnn_peers): one row per contender."""
    columns = [
        ("contender", lambda r: r["name"]),
        ("median ms", lambda r: ms(r["median_s"])),
        ("ratio", lambda r: num(r["ratio"])),
        ("paired", lambda r: num(paired(r))),
        ("/ funcnn_manual", lambda r: num(r.get("ratio_to_manual"))),
        ("compile s", lambda r: num(r["compile_s"])),
        ("same work", same_work_cell),
        ("how", lambda r: r.get("how", "")),
    ]
    if any("achieved_flops_per_s" in r for r in rs):
        columns.insert(2, ("GFLOP/s", lambda r: gflops(r.get("achieved_flops_per_s"))))
    w = rs[0]["workload"]
    out = [
        f"## {bench}: the {model_label(w)} step (batch {w['batch']}, {w['dtype']}{what}) in "
        "other libraries",
        "",
        method + " Ratio = the contender's median / funcnn's (the engine's autodiff step) in "
        "the same interleaved run (> 1: funcnn is faster); `/ funcnn_manual` divides by the "
        "hand-written backward's median. `same work`: three steps from funcnn's initial "
        "weights on the same batch gave funcnn's losses, and the first its parameters.",
        "",
        records_table(columns, rs),
        "",
    ]
    skipped = {k: v for r in rs for k, v in (r.get("skipped") or {}).items()}
    if skipped:
        out += ["Skipped: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()), ""]
    return out


def gru_peers_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    """The bidirectional GRU's step in other libraries."""
    method = (
        "Each library writes funcnn's GRU (reset gate before the hidden matmul, one bias per "
        "gate) from its own primitives."
    )
    return net_peers_section("gru_peers", rs, "", method) + plot_line(
        plots, "gru_peers", "gru_peers"
    )


def cnn_peers_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    """The CNN's step with AdamW in other libraries."""
    w = rs[0]["workload"]
    method = (
        "Each library's own 1-D convolution with circular padding (Haiku's has none: "
        "`jnp.pad(mode='wrap')` before a VALID `hk.Conv1D`), ReLU, global average pooling and "
        f"a dense layer, from funcnn's weights in its layout; AdamW (lr {w.get('lr')}, weight "
        f"decay {w.get('weight_decay')} on the weights only); the recipe's dropout is off "
        "(each library would draw its own mask). GFLOP/s counts the convolutions' and the "
        "dense layer's multiply-adds (forward, weight and input gradients)."
    )
    return net_peers_section("cnn_peers", rs, ", AdamW", method) + plot_line(
        plots, "cnn_peers", "cnn_peers"
    )


def cnn_scaling_section(rs: list[dict], plots: dict[str, str]) -> list[str]:
    """The CNN step against channels and batch: one row per point, both gradients."""
    base = {r["name"]: r for r in rs if r.get("grad") == "autodiff"}
    rows = []
    for m in (r for r in rs if r.get("grad") == "manual"):
        a, w = base[m["baseline"]], m["workload"]
        rows.append(
            [
                f"x{m['channel_multiplier']:g}",
                "-".join(map(str, w["channels"])),
                w["batch"],
                num(a["flops"] / 1e9, "{:.3f}"),
                ms(a["median_s"]),
                ms(m["median_s"]),
                f"{num(m['ratio'])} ({num(paired(m))})",
                f"{gflops(a['achieved_flops_per_s'])} / {gflops(m['achieved_flops_per_s'])}",
                f"{pct(a.get('fraction_of_roofline'))} / {pct(m.get('fraction_of_roofline'))}",
                f"{pct(a.get('fraction_of_paired_matmul'))} / "
                f"{pct(m.get('fraction_of_paired_matmul'))}",
            ]
        )
    header = [
        "multiplier",
        "channels",
        "batch",
        "GFLOP / step",
        "autodiff ms",
        "manual ms",
        "manual / autodiff (paired)",
        "GFLOP/s (a / m)",
        "of roofline (a / m)",
        "of paired matmul (a / m)",
    ]
    n = rs[0].get("paired_matmul_n")
    return [
        f"## cnn_scaling: the CNN step against channels and batch ({rs[0]['workload']['dtype']})",
        "",
        "The CNN recipe's network (no dropout) with every layer's channels times the "
        "multiplier, AdamW, the engine's step with both gradients, checked to compute the same "
        "values, then timed interleaved"
        + (f" with a {n}^3 matmul in the same rounds" if n else "")
        + ". FLOPs: "
        + rs[0].get("flops_formula", "")
        + ".",
        "",
        table(header, rows),
        "",
        *plot_line(plots, "cnn_scaling", "cnn_scaling"),
    ]
