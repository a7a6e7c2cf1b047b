"""manual_vs_autodiff: one jitted training step with hand-written backprop against jax.grad.

The step is forward, backward and an Adam update of ``funcnn.mlp(sizes, "relu")`` on the
softmax cross-entropy (batch mean), jitted with the parameter and optimizer buffers donated,
each call consuming the previous call's parameters as in training. The two contenders differ
only in how the gradient is computed:

* ``manual``:   ``funcnn.backprop.value_and_grad(model, "softmax_cross_entropy")`` — the
  lecture's delta recursion, written by hand;
* ``autodiff``: ``jax.value_and_grad`` of ``softmax_cross_entropy(model.apply(params, x), y)``.

Before any timing both gradients are computed from the same parameters and batch and checked
equal with :func:`funcnn.gradcheck.compare_grads` (float32: relative error <= 1e-4, the
project's gradcheck definition). Compile time is measured apart (``.lower(...).compile()``);
then the two steps are timed A/B interleaved (one call of each per round, rotating order,
after warm-up), at least 20 rounds, and ``ratio = median(manual) / median(autodiff)`` comes
from the same run (``paired_ratio``, the median of the per-round ratios, is recorded beside).

Usage::

    python benchmarks/bench_manual_vs_autodiff.py            # quick: 40-256-256-10 b128, 784-1024-1024-10 b512
    python benchmarks/bench_manual_vs_autodiff.py --full     # more rounds
    python -m benchmarks --only manual_vs_autodiff           # inside the suite
"""

from __future__ import annotations

import argparse
import os
import sys

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `funcnn` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax
import numpy as np

from benchmarks.records import default_out_dir, device_info, make_record, workload
from benchmarks.same_work import WorkMismatchError
from benchmarks.timing import Chain, compile_jitted, paired_ratio, progress_bar, time_interleaved
from benchmarks.workloads import (
    ADAM_EPS,
    ADAM_LR,
    DTYPES,
    FLOPS_FORMULA,
    LARGE,
    MNIST1D,
    jnp_dtype,
    mlp_batch,
    mlp_step_flops,
)
from funcnn.io import write_json

NAME = "manual_vs_autodiff"
LOSS = "softmax_cross_entropy"

CONFIGS = {
    "quick": {"workloads": [(MNIST1D, 128), (LARGE, 512)], "repeats": 20, "warmup": 3},
    "full": {"workloads": [(MNIST1D, 128), (LARGE, 512)], "repeats": 100, "warmup": 5},
}
SMOKE = {"workloads": [((8, 16, 16, 4), 8)], "repeats": 20, "warmup": 1}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""

GRAD_RTOL = {"float32": 1e-4, "bfloat16": 5e-2}


def make_value_and_grad(model, grad: str):
    """``(params, x, y) -> (loss, grads)`` by hand ("manual") or by ``jax.value_and_grad``."""
    import funcnn
    from funcnn import backprop

    if grad == "manual":
        return backprop.value_and_grad(model, LOSS)
    if grad == "autodiff":
        return jax.value_and_grad(
            lambda params, x, y: funcnn.softmax_cross_entropy(model.apply(params, x), y)
        )
    raise ValueError(f"grad must be 'manual' or 'autodiff'; got {grad!r}.")


def make_step(model, grad: str, optimizer):
    """The jitted training step ``(params, opt_state, x, y) -> (params, opt_state, loss)``,
    with ``params`` and ``opt_state`` donated."""
    import optax

    value_and_grad = make_value_and_grad(model, grad)

    def step(params, opt_state, x, y):
        loss, grads = value_and_grad(params, x, y)  # forward + backward
        updates, opt_state = optimizer.update(grads, opt_state, params)  # Adam
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step, donate_argnums=(0, 1))


def check_same_gradients(model, params, x, y, dtype: str) -> float:
    """Assert manual and autodiff gradients agree (gradcheck's relative error <= tolerance);
    returns the largest relative error."""
    manual = jax.jit(make_value_and_grad(model, "manual"))(params, x, y)
    auto = jax.jit(make_value_and_grad(model, "autodiff"))(params, x, y)
    return assert_same_gradients(manual, auto, dtype)


def assert_same_gradients(manual, auto, dtype: str, what: str = "manual and autodiff") -> float:
    """Assert two ``(loss, grads)`` agree: every gradient leaf within gradcheck's relative
    error :data:`GRAD_RTOL` of the dtype, and the losses too; returns the largest relative
    error (raises :class:`WorkMismatchError`)."""
    from funcnn.gradcheck import compare_grads

    rtol = GRAD_RTOL.get(dtype, 1e-4)
    rows = compare_grads(manual[1], auto[1], rtol=rtol)
    bad = [r for r in rows if not r.passed]
    loss_err = abs(float(manual[0]) - float(auto[0])) / max(abs(float(auto[0])), 1e-30)
    if bad or loss_err > rtol:
        raise WorkMismatchError(
            f"{what} gradients differ (rtol {rtol:g}): "
            + "; ".join(f"{r.path} rel err {r.max_rel_err:.3g} {r.note}" for r in bad)
            + f"; loss rel err {loss_err:.3g}"
        )
    return max(r.max_rel_err for r in rows)


def measure(sizes, batch: int, dtype: str, repeats: int, warmup: int, device=None) -> list[dict]:
    """Compile both steps, check their gradients, time them interleaved: two records."""
    import optax

    import funcnn

    model = funcnn.mlp(tuple(sizes), "relu")
    params0 = model.init(jax.random.key(0), dtype=jnp_dtype(dtype))
    x, y = mlp_batch(sizes, batch, dtype)
    max_rel_err = check_same_gradients(model, params0, x, y, dtype)
    optimizer = optax.adam(ADAM_LR, eps=ADAM_EPS)

    chains, compile_s = {}, {}
    for grad in ("manual", "autodiff"):
        params = jax.tree_util.tree_map(lambda p: p.copy(), params0)  # own buffers: donated
        opt_state = optimizer.init(params)
        compiled, compile_s[grad] = compile_jitted(
            make_step(model, grad, optimizer), params, opt_state, x, y
        )
        chains[grad] = Chain(compiled, (params, opt_state), (x, y), n_state=2)
    timings = time_interleaved(chains, repeats=repeats, warmup=warmup)
    # After identical steps from identical starts the two runs' losses still agree.
    last = {g: float(chains[g].last[2]) for g in chains}
    base = timings["autodiff"]
    work = workload("mlp", sizes, batch, dtype, activation="relu", loss=LOSS, optimizer="adam")
    records = []
    for grad in ("manual", "autodiff"):
        t = timings[grad]
        records.append(
            make_record(
                NAME,
                grad,
                work,
                t,
                compile_s=compile_s[grad],
                ratio=t.median / base.median,
                baseline="autodiff",
                device=device,
                paired_ratio=paired_ratio(t, base),
                grad_max_rel_err=max_rel_err,
                last_loss=last[grad],
                flops=mlp_step_flops(sizes, batch),
                flops_formula=FLOPS_FORMULA,
            )
        )
    return records


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    progress: bool = True,
) -> list[dict]:
    """Time manual against autodiff gradients for each workload of the configuration.

    Args:
        quick: the quick configuration (20 timed rounds) or the full one (100).
        dtype: "float32" or "bfloat16" for parameters, optimizer state and data.
        config: override ``{"workloads": [(sizes, batch), ...], "repeats": int, "warmup": int}``.

    Returns:
        Two records per workload (``name`` "manual" and "autodiff", ``ratio`` against
        "autodiff" measured in the same run).
    """
    cfg = dict(config or CONFIGS["quick" if quick else "full"])
    device = device_info()
    records = []
    for sizes, batch in progress_bar(cfg["workloads"], desc=NAME, enabled=progress):
        recs = measure(tuple(sizes), int(batch), dtype, cfg["repeats"], cfg["warmup"], device)
        manual, auto = recs
        print(
            f"[{NAME}] {'-'.join(map(str, sizes))} batch {batch} {dtype} on "
            f"{device['platform']}/{device['device_kind']}: manual {manual['median_s'] * 1e3:.3f} ms, "
            f"autodiff {auto['median_s'] * 1e3:.3f} ms, ratio {manual['ratio']:.3f} "
            f"(paired {manual['paired_ratio']:.3f}); compile {manual['compile_s']:.2f} s / "
            f"{auto['compile_s']:.2f} s"
        )
        records += recs
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="the full configuration (100 rounds)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32")
    parser.add_argument(
        "--out",
        default=None,
        help="JSON file for the records (default benchmarks/results/<date>-<device>-"
        "manual_vs_autodiff/results.json)",
    )
    args = parser.parse_args(argv)
    records = run(not args.full, dtype=args.dtype)
    out = args.out or os.path.join(
        default_out_dir(NAME, args.dtype, records[0]["device"]), "results.json"
    )
    write_json(out, {"bench": NAME, "records": records})
    ratios = [r["ratio"] for r in records if r["name"] == "manual"]
    print(f"[{NAME}] manual/autodiff ratios {np.round(ratios, 3).tolist()}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
