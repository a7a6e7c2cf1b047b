"""roofline: the device's sustained matmul rate, the ceiling the other figures are read against.

For each square size n, ``jax.jit(jnp.dot)`` of two (n, n) matrices of the benchmark dtype is
compiled apart, warmed up and timed; FLOPs = 2 n^3. The roofline is the best median rate over
the sizes (the record with ``"is_roofline": true``). The best single-call rate (``2 n^3 /
min_s``) is kept beside it: on a shared machine it is the better estimate of what the device
can do, and step rates computed from their own best calls are read against it.

    python -m benchmarks --only roofline
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from benchmarks import common

NAME = "roofline"

CONFIGS = {
    # Square sizes per (suite, platform); CPUs saturate by ~2048, accelerators need more.
    ("quick", "cpu"): {"sizes": (512, 1024, 2048), "budget_s": 1.5},
    ("full", "cpu"): {"sizes": (256, 512, 1024, 2048, 3072, 4096), "budget_s": 4.0},
    ("quick", "accel"): {"sizes": (2048, 4096, 8192), "budget_s": 1.0},
    ("full", "accel"): {"sizes": (1024, 2048, 4096, 8192, 16384), "budget_s": 3.0},
}
SMOKE = {"sizes": (32, 64), "budget_s": 0.05}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""


def config_for(quick: bool, platform: str | None = None) -> dict:
    platform = platform or jax.devices()[0].platform
    return CONFIGS[("quick" if quick else "full", "cpu" if platform == "cpu" else "accel")]


def matmul_record(n: int, dtype: str, budget_s: float, device=None) -> dict:
    """Time ``jnp.dot`` of two (n, n) matrices; one record."""
    dt = common.jnp_dtype(dtype)
    ka, kb = jax.random.split(jax.random.key(n))
    a = jax.random.normal(ka, (n, n), dt)
    b = jax.random.normal(kb, (n, n), dt)
    compiled, compile_s = common.compile_jitted(jax.jit(jnp.dot), a, b)
    first = common.time_calls(lambda: compiled(a, b), repeats=common.MIN_REPEATS, warmup=2)
    repeats = common.repeats_for(first.median, budget_s)
    timing = first
    if repeats > first.repeats:
        timing = common.time_calls(lambda: compiled(a, b), repeats=repeats, warmup=0)
    flops = 2 * n**3
    return common.make_record(
        NAME,
        f"matmul_{n}",
        common.workload("matmul", [n, n, n], None, dtype),
        timing,
        compile_s=compile_s,
        flops=flops,
        flops_formula="2 * n^3",
        device=device,
    )


def run(
    quick: bool = True, *, dtype: str = "float32", config: dict | None = None, progress=True
) -> list[dict]:
    """Measure the matmul roofline; returns one record per size, the best flagged.

    Args:
        quick: the quick suite's sizes (else the full suite's).
        dtype: "float32" or "bfloat16".
        config: override ``{"sizes": (...), "budget_s": float}`` (tests use :data:`SMOKE`).
    """
    cfg = dict(config or config_for(quick))
    device = common.device_info()
    records = [
        matmul_record(n, dtype, cfg["budget_s"], device)
        for n in common.progress(cfg["sizes"], desc="roofline", enabled=progress)
    ]
    best = max(records, key=lambda r: r["achieved_flops_per_s"])
    for r in records:
        r["is_roofline"] = r is best
        r["fraction_of_roofline"] = r["achieved_flops_per_s"] / best["achieved_flops_per_s"]
        common.check_record(r)
    print(
        f"[roofline] {dtype}: {best['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s "
        f"(best of {[r['workload']['sizes'][0] for r in records]}, at n={best['workload']['sizes'][0]})"
    )
    return records


def roofline_from(records: list[dict], dtype: str) -> float | None:
    """The roofline FLOP/s in ``records`` for ``dtype`` (None when not measured)."""
    rates = [
        r["achieved_flops_per_s"]
        for r in records
        if r.get("bench") == NAME and r.get("is_roofline") and r["workload"]["dtype"] == dtype
    ]
    return max(rates) if rates else None


def roofline_best_from(records: list[dict], dtype: str) -> float | None:
    """The best single-call matmul rate in ``records`` (``2 n^3 / min_s``): what the device
    does when nothing else competes for it, the ceiling for best-call step rates."""
    rates = [
        r["flops"] / r["min_s"]
        for r in records
        if r.get("bench") == NAME and r["workload"]["dtype"] == dtype
    ]
    return max(rates) if rates else None


def measure_roofline(
    quick: bool = True, *, dtype: str = "float32", config=None
) -> tuple[float, float]:
    """``(median-based, best-call)`` roofline rates, for benchmarks run on their own."""
    records = run(quick, dtype=dtype, config=config, progress=False)
    return roofline_from(records, dtype), roofline_best_from(records, dtype)
