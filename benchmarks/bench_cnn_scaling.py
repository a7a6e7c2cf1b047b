"""cnn_scaling: funcnn's CNN step time against channels and batch, and its FLOP rate.

The CNN recipe's network (:class:`benchmarks.nets.CNNSpec`, no dropout) with every layer's
channels times a multiplier (0.25: 16-16-32-32, ..., 2: 128-128-256-256), at several batch
sizes, trained with the recipe's AdamW (:func:`benchmarks.nets.cnn_adamw`) by the engine's
step (``make_train_step(grad_norm=False)``, the state donated), both ways funcnn computes the
gradient: ``autodiff`` (``jax.value_and_grad``) and ``manual`` (the hand-written convolution
backward, the recipe's). At every point the two are first checked to give the same losses and
parameters (:func:`benchmarks.peers.check_contenders`), then timed interleaved together with a
square ``(pair_n, pair_n)`` matmul in the same rounds.

FLOPs per step are :func:`benchmarks.nets.cnn_step_flops` (every multiply-add of the
convolutions and the dense layer, forward and both gradients, but the first layer's input
gradient); ``fraction_of_roofline`` divides the achieved rate by the suite's matmul roofline,
``fraction_of_paired_matmul`` by the rate of the matmul timed in the same rounds (which other
load on the host slows alike). Where the time stays flat as the work grows, the step is
overhead-bound (dispatch, small convolutions, the optimizer's elementwise passes); where it
grows with the FLOPs, compute-bound.

    python -m benchmarks --only roofline cnn_scaling
    python benchmarks/bench_cnn_scaling.py [--full]
"""

from __future__ import annotations

import os
import sys

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `funcnn` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import bench_roofline, peers
from benchmarks.nets import (
    CNN_FLOPS_FORMULA,
    CNNSpec,
    cnn_adamw,
    cnn_step_flops,
    net_workload,
    reference_init,
    sequence_batch,
)
from benchmarks.peers.baseline import CNN_CONTENDERS
from benchmarks.records import device_info, make_record, script_main
from benchmarks.timing import paired_ratio, progress_bar, repeats_for, time_interleaved
from benchmarks.workloads import suite_config

NAME = "cnn_scaling"
GRADS = {"funcnn": "autodiff", "funcnn_manual": "manual"}
"""Contender of :data:`benchmarks.peers.baseline.CNN_CONTENDERS` -> the gradient it uses."""
BASELINE = "autodiff"

RECIPE = CNNSpec(dropout=0.0)
CONFIGS = {
    ("quick", "cpu"): {
        "multipliers": (0.25, 0.5, 1, 2),
        "batches": (32, 128, 512),
        "budget_s": 0.5,
        "pair_n": 1024,
    },
    ("full", "cpu"): {
        "multipliers": (0.25, 0.5, 1, 2, 4),
        "batches": (8, 32, 128, 512),
        "budget_s": 2.0,
        "pair_n": 2048,
    },
    ("quick", "accel"): {
        "multipliers": (0.5, 1, 2, 4),
        "batches": (128, 1024, 8192),
        "budget_s": 0.5,
        "pair_n": 8192,
    },
    ("full", "accel"): {
        "multipliers": (0.25, 0.5, 1, 2, 4, 8),
        "batches": (32, 128, 1024, 8192, 32768),
        "budget_s": 1.5,
        "pair_n": 8192,
    },
}
SMOKE = {
    "spec": CNNSpec(
        input_length=12, n_classes=4, channels=(4, 8), strides=(1, 2), kernel_size=3, dropout=0.0
    ),
    "multipliers": (0.5, 1),
    "batches": (4, 8),
    "budget_s": 0.05,
    "pair_n": 32,
}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""


def measure_point(spec, multiplier, batch, dtype, cfg, rooflines, device) -> list[dict]:
    """Check and time both gradients (and the paired matmul) on one point: two records."""
    adamw = cnn_adamw()
    x, y = sequence_batch(spec, batch, dtype)
    label = f"cnn {'-'.join(map(str, spec.channels))} batch {batch}"
    contenders, _ = peers.build_contenders(
        list(GRADS),
        spec,
        reference_init(spec, dtype),
        x,
        y,
        dtype=dtype,
        lr=adamw["lr"],
        label=label,
        progress=False,
        registry=CNN_CONTENDERS,
        options={"weight_decay": adamw["weight_decay"]},
    )
    checks, per_call = peers.check_contenders(contenders, dtype=dtype, lr=adamw["lr"], label=label)
    calls = {GRADS[n]: c.call for n, c in contenders.items()}
    n = cfg.get("pair_n")
    if n:
        mm, a, b, _ = bench_roofline.compiled_matmul(n, dtype)
        calls["matmul"] = lambda: mm(a, b)
        per_call["matmul"] = 2 * n**3 / rooflines[0]
    repeats = repeats_for(sum(per_call.values()), cfg["budget_s"], max_repeats=peers.MAX_REPEATS)
    timings = time_interleaved(calls, repeats=repeats, warmup=2)
    flops = cnn_step_flops(spec, batch)
    work = net_workload(spec, batch, dtype, part="step", optimizer="adamw", **adamw)
    records = []
    for name, c in contenders.items():
        grad = GRADS[name]
        t, base = timings[grad], timings[BASELINE]
        rec = make_record(
            NAME,
            f"{grad}/x{multiplier:g}/b{batch}",
            work,
            t,
            compile_s=c.compile_s,
            flops=flops,
            flops_formula=CNN_FLOPS_FORMULA,
            roofline=rooflines[0],
            ratio=t.median / base.median,
            baseline=f"{BASELINE}/x{multiplier:g}/b{batch}",
            device=device,
            paired_ratio=paired_ratio(t, base),
            grad=grad,
            channel_multiplier=float(multiplier),
            how=c.how,
            same_work=dict(checks[name], steps=peers.CHECK_STEPS),
            roofline_flops_per_s=float(rooflines[0]),
        )
        if n:  # rate_step / rate_matmul per round = (F / t_step) / (2 n^3 / t_matmul)
            rec["fraction_of_paired_matmul"] = (
                paired_ratio(timings["matmul"], t) * flops / (2 * n**3)
            )
            rec["paired_matmul_n"] = n
            rec["paired_matmul_flops_per_s"] = 2 * n**3 / timings["matmul"].median
        records.append(rec)
    return records


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    roofline: float | None = None,
    roofline_best: float | None = None,
    progress: bool = True,
) -> list[dict]:
    """Time the CNN step, both gradients, over channel multipliers x batch sizes.

    Args:
        quick: the quick suite's grid (else the full suite's).
        dtype: "float32" or "bfloat16".
        config: override ``{"spec", "multipliers", "batches", "budget_s", "pair_n"}`` (tests
            use :data:`SMOKE`; ``spec`` defaults to the recipe's network without dropout).
        roofline: the measured matmul FLOP/s; measured here (quick sizes) when None.
        roofline_best: unused here (taken for the suite's call convention).

    Returns:
        Two records per point (``manual`` and ``autodiff``), named
        ``<grad>/x<multiplier>/b<batch>``, ``ratio`` against autodiff from the same rounds.
    """
    cfg = dict(config or suite_config(CONFIGS, quick))
    rooflines = bench_roofline.given_or_measured(roofline, roofline_best, quick, dtype)
    base = cfg.get("spec", RECIPE)
    device = device_info()
    points = [(m, b) for m in cfg["multipliers"] for b in cfg["batches"]]
    records = []
    for m, b in progress_bar(points, desc=NAME, enabled=progress):
        spec = base.scaled(m)
        auto, manual = measure_point(spec, m, b, dtype, cfg, rooflines, device)
        records += [auto, manual]
        print(
            f"[{NAME}] x{m:g} ({'-'.join(map(str, spec.channels))}) batch {b} {dtype}: "
            f"autodiff {auto['median_s'] * 1e3:.2f} ms, manual {manual['median_s'] * 1e3:.2f} ms "
            f"(ratio {manual['ratio']:.2f}); {auto['flops'] / 1e9:.3f} GFLOP, autodiff "
            f"{auto['achieved_flops_per_s'] / 1e9:.1f} GFLOP/s = "
            f"{auto['fraction_of_roofline']:.0%} of roofline, "
            f"{auto.get('fraction_of_paired_matmul', float('nan')):.0%} of paired matmul"
        )
    return records


def main(argv=None) -> int:
    return script_main(run, __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
