"""scaling: funcnn's step time against width and against batch size (log-log).

Two sweeps of ``mlp((n_0, w, w, 10), "relu")`` + softmax cross-entropy + Adam:

* width: ``w`` varies at a fixed batch;
* batch: the batch varies at a fixed width.

Where the time stays flat as the work grows, the step is overhead-bound (dispatch, small
kernels, the optimizer's elementwise passes); where it grows in proportion to the FLOPs it is
compute-bound, and its achieved rate approaches the roofline. The plot (drawn by
:mod:`benchmarks.report`) shows the measured times beside ``flops / rate``, the time a step
would take at the rate of a square matmul timed in the same interleaved rounds (``pair_n``;
the suite's roofline when there is none).

    python -m benchmarks --only scaling
"""

from __future__ import annotations

from benchmarks import bench_roofline, bench_step
from benchmarks.records import check_record, device_info
from benchmarks.timing import progress_bar
from benchmarks.workloads import suite_config

NAME = "scaling"

CONFIGS = {
    ("quick", "cpu"): {
        "n_in": 784,
        "width_sweep": {"batch": 256, "widths": (64, 256, 512, 1024)},
        "batch_sweep": {"width": 512, "batches": (16, 64, 256, 1024)},
        "budget_s": 0.5,
        "pair_n": 1024,
    },
    ("full", "cpu"): {
        "n_in": 784,
        "width_sweep": {"batch": 256, "widths": (32, 64, 128, 256, 512, 1024, 2048)},
        "batch_sweep": {"width": 512, "batches": (1, 4, 16, 64, 256, 1024, 4096)},
        "budget_s": 2.0,
        "pair_n": 2048,
    },
    ("quick", "accel"): {
        "n_in": 784,
        "width_sweep": {"batch": 4096, "widths": (256, 1024, 4096, 8192)},
        "batch_sweep": {"width": 4096, "batches": (64, 512, 4096, 16384)},
        "budget_s": 0.5,
        "pair_n": 8192,
    },
    ("full", "accel"): {
        "n_in": 784,
        "width_sweep": {"batch": 4096, "widths": (64, 256, 1024, 2048, 4096, 8192, 16384)},
        "batch_sweep": {"width": 4096, "batches": (16, 128, 1024, 4096, 16384, 65536)},
        "budget_s": 1.5,
        "pair_n": 8192,
    },
}
SMOKE = {
    "n_in": 8,
    "width_sweep": {"batch": 8, "widths": (4, 8)},
    "batch_sweep": {"width": 8, "batches": (4,)},
    "budget_s": 0.05,
}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    roofline: float | None = None,
    roofline_best: float | None = None,
    progress=True,
) -> list[dict]:
    """Time funcnn's step along the width sweep and the batch sweep.

    Args:
        quick: the quick suite's sweeps (else the full suite's).
        dtype: "float32" or "bfloat16".
        config: override (see :data:`CONFIGS`; tests use :data:`SMOKE`).
        roofline: the measured matmul FLOP/s; measured here (quick sizes) when None.
        roofline_best: the best single-call matmul FLOP/s (see :mod:`bench_roofline`).

    Returns:
        One record per point, with ``sweep`` ("width" or "batch") and ``x`` (its value).
    """
    cfg = dict(config or suite_config(CONFIGS, quick))
    rooflines = bench_roofline.given_or_measured(roofline, roofline_best, quick, dtype)
    n_in, n_out = cfg["n_in"], 10
    ws, bs = cfg["width_sweep"], cfg["batch_sweep"]
    points = [("width", w, (n_in, w, w, n_out), ws["batch"]) for w in ws["widths"]]
    points += [("batch", b, (n_in, bs["width"], bs["width"], n_out), b) for b in bs["batches"]]
    device = device_info()
    records = []
    for sweep, value, sizes, batch in progress_bar(points, desc="scaling", enabled=progress):
        rec = bench_step.step_record(sizes, batch, dtype, cfg, rooflines, device)
        rec.update(bench=NAME, name=f"{sweep}={value}", sweep=sweep, x=int(value))
        check_record(rec)
        records.append(rec)
    for sweep in ("width", "batch"):
        pts = [r for r in records if r["sweep"] == sweep]
        line = ", ".join(
            f"{r['x']}: {r['median_s'] * 1e3:.2f} ms ({r.get('fraction_of_roofline', 0):.0%}, "
            f"{r.get('fraction_of_paired_matmul', float('nan')):.0%} of paired matmul)"
            for r in pts
        )
        print(f"[scaling] {sweep} ({dtype}): {line}")
    return records
