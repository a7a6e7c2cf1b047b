"""conv_rnn: hand-written backward against autodiff for the CNN and the bidirectional GRU.

For each model of :mod:`benchmarks.nets` (``funcnn.cnn`` with dropout, and a bidirectional
GRU) the two ways funcnn computes a gradient are compared through the engine's public entry
points, ``grad="manual"`` (:func:`funcnn.backprop.value_and_grad`: the tap-by-tap convolution
backward, BPTT as a reverse ``lax.scan``) and ``grad="autodiff"`` (``jax.value_and_grad``):

* ``step``: one jitted training step (``funcnn.train.make_train_step(...,
  grad_norm=False)``, Adam, the state donated) on a fixed batch;
* ``epoch``: a whole epoch as one compiled call (``funcnn.train.make_epoch``: shuffle, then
  the step under ``jax.lax.scan``; it also computes each step's gradient norm). XLA's CPU
  backend runs the weight-gradient convolution that autodiff emits far slower inside a
  ``lax.scan`` body than outside it (jax-ml/jax#12868, see :mod:`funcnn.backprop.conv`): the
  step does not show it, the epoch does;
* ``memory``: every compiled step and epoch carries XLA's memory analysis
  (``.lower(...).compile().memory_analysis()``, :func:`memory_of`): argument, output, aliased
  (donated) and temporary bytes, and ``total_bytes`` = arguments + outputs - aliased + temps,
  the buffers XLA assigns; a field the backend does not give is None. For the GRU the
  hand-written BPTT keeps every state and gate of the forward scan, autodiff its own residuals.

Before timing, the gradients of the two ways are compared on the batch (with a dropout key:
:func:`funcnn.gradcheck.compare_grads`, relative error <= 1e-4 in float32), then the compiled
steps (and epochs) run from the same state and must give the same losses and parameters
(:func:`benchmarks.same_work.assert_same_work`, with the allowance for Adam's rounding-level
steps). Compile time is measured apart; the two are timed A/B interleaved and
``ratio = median(manual) / median(autodiff)`` comes from the same run (``paired_ratio``
beside).

    python -m benchmarks --only conv_rnn
    python benchmarks/bench_conv_rnn.py [--full]
"""

from __future__ import annotations

import dataclasses
import os
import sys

if __package__ in (None, ""):  # run as a script: make `benchmarks` and `funcnn` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_manual_vs_autodiff import assert_same_gradients
from benchmarks.nets import LOSS, CNNSpec, GRUSpec, net_workload, sequence_batch
from benchmarks.records import device_info, make_record, script_main
from benchmarks.same_work import assert_same_work, to_numpy
from benchmarks.timing import Chain, compile_jitted, paired_ratio, progress_bar, time_interleaved
from benchmarks.workloads import ADAM_EPS, ADAM_LR, jnp_dtype, suite_config

NAME = "conv_rnn"
GRADS = ("manual", "autodiff")
BASELINE = "autodiff"
CHECK_STEPS = 3

MODELS = {"cnn": CNNSpec(), "gru": GRUSpec()}
CONFIGS = {
    # On a CPU the autodiff CNN epoch is the slow one (seconds per step inside the scan):
    # the quick suite scans 4 batches, enough to show the per-step cost; full runs 28.
    ("quick", "cpu"): {
        "batch": 128,
        "epoch_batches": 4,
        "repeats": 20,
        "warmup": 2,
        "epoch_warmup": 1,
    },
    ("full", "cpu"): {
        "batch": 128,
        "epoch_batches": 28,
        "repeats": 20,
        "warmup": 2,
        "epoch_warmup": 1,
    },
    ("quick", "accel"): {
        "batch": 128,
        "epoch_batches": 28,
        "repeats": 50,
        "warmup": 3,
        "epoch_warmup": 2,
    },
    ("full", "accel"): {
        "batch": 128,
        "epoch_batches": 28,
        "repeats": 100,
        "warmup": 5,
        "epoch_warmup": 2,
    },
}
SMOKE = {
    "models": {
        "cnn": CNNSpec(
            input_length=12, n_classes=4, channels=(4, 8), strides=(1, 2), kernel_size=3
        ),
        "gru": GRUSpec(steps=5, n_in=2, hidden=8, n_classes=4),
    },
    "batch": 8,
    "epoch_batches": 3,
    "repeats": 20,
    "warmup": 1,
    "epoch_warmup": 1,
}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""

ALLOWANCE = {"outlier_fraction": 1e-3, "outlier_atol_lr": 2.0}
"""Parameters whose gradient is at rounding level may take opposite Adam steps of about lr
(see :func:`benchmarks.same_work.assert_same_work`): up to this share of them, within this
many learning rates per step taken; the losses get no allowance."""

MEMORY_FIELDS = {
    "argument_bytes": "argument_size_in_bytes",
    "output_bytes": "output_size_in_bytes",
    "alias_bytes": "alias_size_in_bytes",
    "temp_bytes": "temp_size_in_bytes",
    "generated_code_bytes": "generated_code_size_in_bytes",
    "peak_bytes_reported": "peak_memory_in_bytes",
}
"""Record field -> attribute of XLA's ``CompiledMemoryStats``."""


# --- memory --------------------------------------------------------------------------------


def memory_of(compiled) -> dict[str, int | None]:
    """XLA's memory analysis of a compiled executable, with None for what it does not give.

    ``total_bytes`` = arguments + outputs - aliased (donated buffers the outputs reuse) +
    temporaries: the buffers XLA assigns for one call. ``peak_bytes_reported`` is the
    backend's own peak figure, where it gives one (XLA's CPU backend counts no temporaries
    in it).
    """
    try:
        stats = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError, AttributeError):
        stats = None
    if isinstance(stats, (list, tuple)):  # one entry per device on some backends
        stats = stats[0] if len(stats) == 1 else None
    out: dict[str, int | None] = {}
    for field, attr in MEMORY_FIELDS.items():
        v = getattr(stats, attr, None)
        out[field] = None if v is None or int(v) < 0 else int(v)
    parts = [out[k] for k in ("argument_bytes", "output_bytes", "alias_bytes", "temp_bytes")]
    out["total_bytes"] = (
        None if any(p is None for p in parts) else parts[0] + parts[1] - parts[2] + parts[3]
    )
    return out


# --- the same-work checks ------------------------------------------------------------------


def value_and_grad(model, grad: str):
    """``(params, x, y, key) -> (loss, grads)``, dropout active (key given): by hand, or by
    ``jax.value_and_grad`` of the model's training-mode forward."""
    import jax

    from funcnn import backprop
    from funcnn.losses import LOSSES

    if grad == "manual":
        return backprop.value_and_grad(model, LOSS)
    if grad == "autodiff":
        return jax.value_and_grad(
            lambda p, x, y, key: LOSSES[LOSS](model.apply(p, x, key=key, train=True), y)
        )
    raise ValueError(f"grad must be one of {GRADS}; got {grad!r}.")


def check_gradients(model, params, x, y, dtype: str) -> float:
    """Assert the hand-written and autodiff gradients agree on ``(x, y)`` with a dropout key
    (gradcheck's relative error <= :data:`GRAD_RTOL`); returns the largest relative error."""
    import jax

    key = jax.random.key(1)
    manual, auto = (jax.jit(value_and_grad(model, g))(params, x, y, key) for g in GRADS)
    return assert_same_gradients(manual, auto, dtype, f"{model.kind}: manual and autodiff")


def check_same_trace(traces: dict, dtype: str, what: str, steps: int, first: int) -> dict:
    """Assert the manual and autodiff runs' ``{"losses"}`` of ``steps`` steps and their
    ``{"params"}`` after the ``first`` steps of the first call agree; returns the parameter
    comparison's summary."""
    ref, cand = traces[BASELINE], traces["manual"]
    assert_same_work(ref["losses"], cand["losses"], dtype=dtype, what=f"{what}: losses")
    outlier_atol = ALLOWANCE["outlier_atol_lr"] * ADAM_LR * first
    same = assert_same_work(
        ref["params"],
        cand["params"],
        dtype=dtype,
        what=f"{what}: parameters",
        outlier_fraction=ALLOWANCE["outlier_fraction"],
        outlier_atol=outlier_atol,
    )
    return dict(dataclasses.asdict(same), steps=steps, outlier_atol=outlier_atol)


# --- building and timing -------------------------------------------------------------------


def build(model, grad: str, part: str, batch: int, x, y, dtype: str):
    """The compiled step or epoch for ``grad``, from the initial state of seed 0: ``(chain,
    compile_s, memory)``. A fresh optimizer makes a freshly jitted function, so the compile
    time is real."""
    import jax
    import optax

    from funcnn.train import init_state, make_epoch, make_train_step

    optimizer = optax.adam(ADAM_LR, eps=ADAM_EPS)
    state = init_state(model, optimizer, jax.random.key(0), dtype=jnp_dtype(dtype))
    if part == "step":
        fn = make_train_step(model, LOSS, optimizer, grad=grad, grad_norm=False)
        inputs = ((x[:batch], y[:batch]),)
    else:
        fn = make_epoch(model, LOSS, optimizer, batch_size=batch, grad=grad)
        inputs = (x, y)
    compiled, compile_s = compile_jitted(fn, state, *inputs)
    return Chain(compiled, (state,), inputs, n_state=1), compile_s, memory_of(compiled)


def run_trace(chain: Chain, calls: int) -> dict:
    """``calls`` calls: every step's loss, and the parameters after the first call."""
    import jax

    losses, params = [], None
    for i in range(calls):
        state, metrics = chain()
        losses.append(to_numpy(metrics["loss"]))
        if i == 0:
            params = jax.tree.map(to_numpy, state.params)
    return {"losses": losses, "params": params}


def measure(name: str, spec, part: str, cfg: dict, dtype: str, device) -> list[dict]:
    """Check and time manual against autodiff for one model and part: two records."""
    batch = int(cfg["batch"])
    n = batch * (int(cfg["epoch_batches"]) if part == "epoch" else 1)
    x, y = sequence_batch(spec, n, dtype, seed=1 if part == "epoch" else 0)
    model = spec.model()
    built = {g: build(model, g, part, batch, x, y, dtype) for g in GRADS}
    checks = {}
    if part == "step":
        params = built[BASELINE][0].state[0].params
        checks["grad_max_rel_err"] = check_gradients(model, params, x, y, dtype)
    calls = CHECK_STEPS if part == "step" else 1
    steps = calls * (n // batch)
    what = f"{name} {part}: manual vs autodiff"
    traces = {g: run_trace(built[g][0], calls) for g in GRADS}
    checks["same_work"] = check_same_trace(traces, dtype, what, steps, n // batch)
    warmup = int(cfg["warmup"] if part == "step" else cfg["epoch_warmup"])
    timings = time_interleaved(
        {g: built[g][0] for g in GRADS}, repeats=int(cfg["repeats"]), warmup=warmup
    )
    base = timings[BASELINE]
    work = net_workload(
        spec, batch, dtype, part=part, steps_per_call=n // batch, grad_norm=part == "epoch"
    )
    records = []
    for g in GRADS:
        t = timings[g]
        records.append(
            make_record(
                NAME,
                f"{name}/{part}/{g}",
                work,
                t,
                compile_s=built[g][1],
                ratio=t.median / base.median,
                baseline=f"{name}/{part}/{BASELINE}",
                device=device,
                paired_ratio=paired_ratio(t, base),
                grad=g,
                memory=built[g][2],
                **checks,
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
    """Time the hand-written against the autodiff gradient for the CNN and the GRU, one step
    and one scanned epoch each.

    Args:
        quick: the quick configuration (on a CPU: epochs of 4 batches) or the full one.
        dtype: of parameters, optimizer state and data.
        config: override ``{"models": {name: spec}, "batch", "epoch_batches", "repeats",
            "warmup"}`` (tests use :data:`SMOKE`).

    Returns:
        Four records per model, named ``<model>/<step|epoch>/<manual|autodiff>``, with
        ``ratio`` against autodiff from the same run and XLA's memory analysis under
        ``memory``.
    """
    cfg = dict(config or suite_config(CONFIGS, quick))
    models = cfg.get("models", MODELS)
    device = device_info()
    records = []
    jobs = [(name, part) for name in models for part in ("step", "epoch")]
    for name, part in progress_bar(jobs, desc=NAME, enabled=progress):
        manual, auto = measure(name, models[name], part, cfg, dtype, device)
        mem = {g: r["memory"]["total_bytes"] for g, r in zip(GRADS, (manual, auto))}
        print(
            f"[{NAME}] {name} {part} b{cfg['batch']} {dtype} on {device['platform']}: manual "
            f"{manual['median_s'] * 1e3:.1f} ms, autodiff {auto['median_s'] * 1e3:.1f} ms, "
            f"ratio {manual['ratio']:.3f} (paired {manual['paired_ratio']:.3f}); compile "
            f"{manual['compile_s']:.1f} s / {auto['compile_s']:.1f} s; XLA buffers "
            f"{mem['manual']} / {mem['autodiff']} bytes"
        )
        records += [manual, auto]
    return records


def main(argv=None) -> int:
    return script_main(run, __doc__.split("\n")[0], argv)


if __name__ == "__main__":
    sys.exit(main())
