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

from benchmarks.records import check_record, device_info, make_record, workload
from benchmarks.timing import compile_jitted, progress_bar, time_within_budget
from benchmarks.workloads import jnp_dtype, suite_config

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


def compiled_matmul(n: int, dtype: str):
    """``(matmul, a, b, compile_s)``: ``jax.jit(jnp.dot)`` compiled for two random (n, n)
    matrices ``a`` and ``b`` of ``dtype`` on the device, and its compile time."""
    dt = jnp_dtype(dtype)
    ka, kb = jax.random.split(jax.random.key(n))
    a, b = jax.random.normal(ka, (n, n), dt), jax.random.normal(kb, (n, n), dt)
    matmul, compile_s = compile_jitted(jax.jit(jnp.dot), a, b)
    return matmul, a, b, compile_s


def matmul_record(n: int, dtype: str, budget_s: float, device=None) -> dict:
    """Time ``jnp.dot`` of two (n, n) matrices; one record."""
    matmul, a, b, compile_s = compiled_matmul(n, dtype)
    timing = time_within_budget(lambda: matmul(a, b), budget_s, warmup=2)
    return make_record(
        NAME,
        f"matmul_{n}",
        workload("matmul", [n, n, n], None, dtype),
        timing,
        compile_s=compile_s,
        flops=2 * n**3,
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
    cfg = dict(config or suite_config(CONFIGS, quick))
    device = device_info()
    records = [
        matmul_record(n, dtype, cfg["budget_s"], device)
        for n in progress_bar(cfg["sizes"], desc="roofline", enabled=progress)
    ]
    best = max(records, key=lambda r: r["achieved_flops_per_s"])
    for r in records:
        r["is_roofline"] = r is best
        r["fraction_of_roofline"] = r["achieved_flops_per_s"] / best["achieved_flops_per_s"]
        check_record(r)
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


def given_or_measured(
    roofline: float | None, roofline_best: float | None, quick: bool, dtype: str
) -> tuple[float, float | None]:
    """``(roofline, roofline_best)`` as the suite passed them, or :func:`measure_roofline`'s
    where it passed none (a benchmark run on its own)."""
    if roofline is None:
        return measure_roofline(quick, dtype=dtype)
    return roofline, roofline_best
