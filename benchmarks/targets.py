"""The targets a benchmark run is read against, each with what this run measured and a
verdict: the matmul roofline, the large step's share of it, funcnn against the fastest JAX
peer and PyTorch eager, and hand-written against autodiff gradients."""

from __future__ import annotations

from benchmarks.report_tta import tta_targets
from benchmarks.tables import by_bench, gflops, mlp_key, mlp_peers, pct, sizes_label, table
from benchmarks.workloads import LARGE

# The targets stated for a CPU (read against this run's own roofline and baselines).
TARGET_LARGE_FRACTION = 0.85
TARGET_PEER_RATIO = 1.05
TARGET_MANUAL_RATIO = 1.0
JAX_PEERS = ("haiku", "flax_linen", "flax_nnx", "equinox")
"""The JAX peers of runs whose records have no ``runtime`` (funcnn_jit is funcnn's own)."""


def is_jax_peer(r: dict) -> bool:
    return r.get("runtime") == "jax" if "runtime" in r else r["name"] in JAX_PEERS


def targets(records: list[dict]) -> list[tuple[str, str, str]]:
    """``(target, measured, verdict)`` rows for the targets this run can speak to."""
    rows = []
    for r in by_bench(records, "roofline"):
        if r.get("is_roofline"):
            best = max(q["flops"] / q["min_s"] for q in by_bench(records, "roofline"))
            rows.append(
                (
                    f"matmul roofline ({r['workload']['dtype']})",
                    f"{gflops(r['achieved_flops_per_s'])} GFLOP/s (median) at "
                    f"n={r['workload']['sizes'][0]}; best call {gflops(best)} GFLOP/s",
                    "measured",
                )
            )
    for r in by_bench(records, "step"):
        if r["workload"]["sizes"] == list(LARGE) and "fraction_of_roofline" in r:
            f = r["fraction_of_roofline"]
            rows.append(
                (
                    f"large step {sizes_label(r['workload'])} batch {r['workload']['batch']} >= "
                    f"{TARGET_LARGE_FRACTION:.0%} of roofline",
                    f"{pct(f)} (medians, 6PB count); {pct(r.get('fraction_of_roofline_exact'))} "
                    f"counting exact matmuls; {pct(r.get('fraction_of_roofline_best'))} best "
                    f"call / best matmul call; {pct(r.get('fraction_of_paired_matmul'))} of a "
                    f"{r.get('paired_matmul_n')}^3 matmul timed in the same rounds",
                    "met" if f >= TARGET_LARGE_FRACTION else "missed",
                )
            )
    peers = mlp_peers(records)
    for key in sorted({mlp_key(r) for r in peers}):
        rows += peer_targets(f"{'-'.join(map(str, key[0]))} batch {key[1]}", peers, key)
    for r in by_bench(records, "manual_vs_autodiff"):
        if "ratio" in r and r["name"] != r["baseline"]:
            rows.append(
                (
                    f"manual / autodiff {sizes_label(r['workload'])} batch "
                    f"{r['workload'].get('batch')} <= {TARGET_MANUAL_RATIO}",
                    f"{r['ratio']:.2f} ({r['name']} vs {r['baseline']})",
                    "met" if r["ratio"] <= TARGET_MANUAL_RATIO else "missed",
                )
            )
    return rows + tta_targets(records)


def peer_targets(label: str, peers: list[dict], key) -> list[tuple[str, str, str]]:
    """The target rows of one peers workload: funcnn against the fastest JAX peer (and
    funcnn's own plain jitted step beside), and against PyTorch eager."""
    group = {r["name"]: r for r in peers if mlp_key(r) == key}
    rows = []
    jax_peers = [r for r in group.values() if is_jax_peer(r)]
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
        if "funcnn_jit" in group:
            rows.append(
                (
                    f"{label}: funcnn's model and loss in a plain jitted step (outside the "
                    "engine) / fastest JAX peer",
                    f"{group['funcnn_jit']['ratio'] / best['ratio']:.2f}",
                    "info",
                )
            )
    if "torch_eager" in group:
        ratio = group["torch_eager"]["ratio"]
        rows.append(
            (
                f"{label}: funcnn faster than PyTorch eager",
                f"torch eager takes {ratio:.2f}x funcnn's time",
                "met" if ratio > 1.0 else "missed",
            )
        )
    return rows


def targets_section(records: list[dict]) -> list[str]:
    rows = targets(records)
    if not rows:
        return []
    return ["## Targets", "", table(["target", "measured", "verdict"], rows), ""]
