"""step: one jitted MLP training step (forward, backward, Adam update) against the roofline.

The step is funcnn's training engine's: ``funcnn.train.make_train_step`` of
``funcnn.mlp(sizes, "relu")``, the "softmax_cross_entropy" loss (batch mean) and
``optax.adam(1e-3)``, without the optional gradient-norm metric, its state donated
(:func:`benchmarks.workloads.funcnn_step`). Each call consumes the previous call's state, as
in training. Compile time is measured apart with ``.lower(...).compile()``.

FLOPs are counted as ``6 * params * batch`` (forward 2PB, backward 4PB), the customary count
the targets are stated in. Besides the fraction of the roofline measured by ``roofline``, each
record has ``fraction_of_paired_matmul``: the step and a square matmul timed in the same
interleaved rounds, which stays meaningful when other work shares the host. A training step
does not compute the gradient of its input, so the matmuls it really performs are fewer:
``flops_exact`` (2 B (3 sum n_in n_out - n_0 n_1)) is recorded beside, with its own fraction
of the roofline.

    python -m benchmarks --only roofline step
"""

from __future__ import annotations

from benchmarks import bench_roofline
from benchmarks.records import check_record, device_info, make_record, workload
from benchmarks.timing import paired_ratio, progress_bar, time_interleaved, time_within_budget
from benchmarks.workloads import (
    FLOPS_EXACT_FORMULA,
    FLOPS_FORMULA,
    LARGE,
    MNIST1D,
    funcnn_step,
    mlp_batch,
    mlp_params,
    mlp_step_flops,
    mlp_step_matmul_flops,
    suite_config,
)

NAME = "step"

CONFIGS = {
    ("quick", "cpu"): {
        "workloads": [(MNIST1D, 128), ((784, 512, 512, 10), 256), (LARGE, 512)],
        "budget_s": 1.5,
        "pair_n": 1024,
    },
    ("full", "cpu"): {
        "workloads": [
            (MNIST1D, 32),
            (MNIST1D, 128),
            (MNIST1D, 1024),
            ((784, 256, 256, 10), 128),
            ((784, 512, 512, 10), 256),
            (LARGE, 128),
            (LARGE, 512),
            (LARGE, 2048),
            ((784, 2048, 2048, 10), 1024),
        ],
        "budget_s": 4.0,
        "pair_n": 2048,
    },
    ("quick", "accel"): {
        "workloads": [(MNIST1D, 128), (LARGE, 512), ((784, 4096, 4096, 10), 8192)],
        "budget_s": 1.0,
        "pair_n": 8192,
    },
    ("full", "accel"): {
        "workloads": [
            (MNIST1D, 128),
            (MNIST1D, 8192),
            (LARGE, 512),
            (LARGE, 8192),
            ((784, 4096, 4096, 10), 8192),
            ((1024, 8192, 8192, 1024), 16384),
            ((4096, 16384, 16384, 4096), 16384),
        ],
        "budget_s": 3.0,
        "pair_n": 8192,
    },
}
SMOKE = {"workloads": [((8, 16, 16, 4), 8)], "budget_s": 0.05, "pair_n": 32}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""


def step_record(
    sizes,
    batch: int,
    dtype: str,
    cfg: dict,
    rooflines: tuple[float | None, float | None] = (None, None),
    device=None,
) -> dict:
    """Compile and time funcnn's step for one (sizes, batch); one record.

    Args:
        sizes, batch, dtype: the workload.
        cfg: ``budget_s`` (seconds of timed calls) and, where the step is also to be timed
            interleaved with an ``(n, n) @ (n, n)`` matmul (20 rounds), ``pair_n``: then
            ``fraction_of_paired_matmul`` is the step's rate over the matmul's rate in the
            same rounds (median of per-round ratios), a figure that other load on the host
            slows on both sides alike.
        rooflines: the suite's median-based and best-call matmul rates (None: not measured).
        device: the record's device (default: measured).
    """
    roofline, roofline_best = rooflines
    fs = funcnn_step(sizes, dtype=dtype)
    x, y = mlp_batch(sizes, batch, dtype)
    _, compile_s = fs.compile(x, y)
    chain = fs.chain(x, y)
    timing = time_within_budget(chain, cfg["budget_s"], warmup=3)
    exact = mlp_step_matmul_flops(sizes, batch)
    rec = make_record(
        NAME,
        "funcnn",
        workload("mlp", sizes, batch, dtype, optimizer="adam", impl=fs.impl),
        timing,
        compile_s=compile_s,
        flops=mlp_step_flops(sizes, batch),
        flops_formula=FLOPS_FORMULA,
        roofline=roofline,
        device=device,
        params=mlp_params(sizes),
        flops_exact=float(exact),
        flops_exact_formula=FLOPS_EXACT_FORMULA,
    )
    if roofline:
        rec["fraction_of_roofline_exact"] = exact / timing.median / roofline
        rec["roofline_flops_per_s"] = float(roofline)
    if roofline_best:  # best call against best matmul call
        rec["fraction_of_roofline_best"] = rec["flops"] / timing.min / roofline_best
        rec["roofline_best_flops_per_s"] = float(roofline_best)
    if cfg.get("pair_n"):
        rec.update(paired_matmul(chain, rec["flops"], cfg["pair_n"], dtype))
    check_record(rec)
    return rec


def paired_matmul(step_call, step_flops: float, n: int, dtype: str) -> dict:
    """The step's FLOP rate over an (n, n) matmul's, timed in the same interleaved rounds."""
    mm, a, b, _ = bench_roofline.compiled_matmul(n, dtype)
    t = time_interleaved({"step": step_call, "matmul": lambda: mm(a, b)}, warmup=1)
    # rate_step / rate_matmul = (F_step / t_step) / (F_mm / t_mm), per round
    per_round = paired_ratio(t["matmul"], t["step"]) * step_flops / (2 * n**3)
    return {
        "fraction_of_paired_matmul": per_round,
        "paired_matmul_n": n,
        "paired_matmul_flops_per_s": 2 * n**3 / t["matmul"].median,
    }


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    roofline: float | None = None,
    roofline_best: float | None = None,
    progress=True,
) -> list[dict]:
    """Time funcnn's training step over the sweep of (sizes, batch).

    Args:
        quick: the quick suite's sweep (else the full one).
        dtype: "float32" or "bfloat16" (parameters, optimizer state and data).
        config: override ``{"workloads": [(sizes, batch), ...], "budget_s": float}``.
        roofline: the measured matmul FLOP/s; measured here (quick sizes) when None.
        roofline_best: the best single-call matmul FLOP/s (see :mod:`bench_roofline`).
    """
    cfg = dict(config or suite_config(CONFIGS, quick))
    rooflines = bench_roofline.given_or_measured(roofline, roofline_best, quick, dtype)
    device = device_info()
    records = []
    for sizes, batch in progress_bar(cfg["workloads"], desc="step", enabled=progress):
        rec = step_record(tuple(sizes), batch, dtype, cfg, rooflines, device)
        records.append(rec)
        print(
            f"[step] {'-'.join(map(str, sizes))} batch {batch} {dtype}: "
            f"{rec['median_s'] * 1e3:.3f} ms, {rec['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s, "
            f"{rec.get('fraction_of_roofline', float('nan')):.0%} of roofline "
            f"({rec.get('fraction_of_roofline_exact', float('nan')):.0%} counting exact matmuls, "
            f"{rec.get('fraction_of_roofline_best', float('nan')):.0%} best call to best call, "
            f"{rec.get('fraction_of_paired_matmul', float('nan')):.0%} of a "
            f"{rec.get('paired_matmul_n')}^3 matmul in the same rounds); "
            f"compile {rec['compile_s']:.2f} s"
        )
    return records
