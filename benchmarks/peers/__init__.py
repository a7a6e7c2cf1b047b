"""peers: the same training step in the libraries people use instead of funcnn.

Every contender trains the same network on the same batch from the same initial parameters:
an MLP with ReLU hidden layers and a linear output, softmax cross-entropy averaged over the
batch, Adam with lr 1e-3, b1 0.9, b2 0.999, eps 1e-8. funcnn's initial weights are copied
into each peer (transposed where the library stores ``(n_out, n_in)``). Before timing, every
contender runs three steps and its losses and updated parameters are asserted equal to
funcnn's (:func:`verify_same_work`); then all contenders are timed interleaved in the same
run and each gets ``ratio = its median / funcnn's median`` (> 1: funcnn is faster).

The contenders, one module per library family (each skipped with a printed reason when its
library is missing; :mod:`benchmarks.peers.contender` says what a module provides):

* :mod:`~benchmarks.peers.baseline`: ``funcnn`` (the engine's step, the baseline) and
  ``funcnn_jit`` (funcnn's model and loss in a plain jitted step);
* :mod:`~benchmarks.peers.equinox`: ``equinox``;
* :mod:`~benchmarks.peers.flax`: ``flax_linen`` and ``flax_nnx``;
* :mod:`~benchmarks.peers.haiku`: ``haiku``;
* :mod:`~benchmarks.peers.torch`: ``torch_eager`` and ``torch_compile`` (full suite only).

A new contender is a new module here with ``CONTENDERS`` and ``PACKAGES``: :data:`CONTENDERS`
collects every module's. A module's ``GRU_CONTENDERS`` (baseline, flax, equinox, torch) are
the bidirectional GRU's step, timed by :mod:`benchmarks.bench_gru_peers`; its
``CNN_CONTENDERS`` (baseline, flax, equinox, haiku, torch) the CNN's step with AdamW, timed by
:mod:`benchmarks.bench_cnn_peers`. And :mod:`~benchmarks.peers.sklearn` times scikit-learn's
``MLPClassifier`` epoch against funcnn's scanned epoch on MNIST-1D.

    python -m benchmarks --only peers
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from benchmarks.peers.contender import Contender, Unavailable
from benchmarks.peers.sklearn import PACKAGES as SKLEARN_PACKAGES
from benchmarks.peers.sklearn import sklearn_comparison
from benchmarks.records import device_info, make_record, workload
from benchmarks.same_work import assert_same_work, to_numpy
from benchmarks.timing import Timing, paired_ratio, progress_bar, repeats_for, time_interleaved
from benchmarks.workloads import (
    ADAM_LR,
    FLOPS_FORMULA,
    LARGE,
    MNIST1D,
    funcnn_step,
    mlp_batch,
    mlp_step_flops,
    suite_config,
)

NAME = "peers"
BASELINE = "funcnn"

CONFIGS = {
    ("quick", "cpu"): {
        "workloads": [(MNIST1D, 128), (LARGE, 512)],
        "budget_s": 4.0,
        "torch_compile": False,
        "sklearn_epochs": 20,
    },
    ("full", "cpu"): {
        "workloads": [(MNIST1D, 128), ((784, 512, 512, 10), 256), (LARGE, 512)],
        "budget_s": 20.0,
        "torch_compile": True,
        "sklearn_epochs": 40,
    },
    ("quick", "accel"): {
        "workloads": [(MNIST1D, 128), (LARGE, 512), ((784, 4096, 4096, 10), 8192)],
        "budget_s": 5.0,
        "torch_compile": False,
        "sklearn_epochs": 20,
    },
    ("full", "accel"): {
        "workloads": [(MNIST1D, 128), (LARGE, 512), ((784, 4096, 4096, 10), 8192)],
        "budget_s": 15.0,
        "torch_compile": True,
        "sklearn_epochs": 20,
    },
}
SMOKE = {
    "workloads": [((8, 16, 16, 4), 8)],
    "budget_s": 0.1,
    "torch_compile": False,
    "sklearn_epochs": 20,
    "dataset": "synthetic",
}
"""Tiny sizes for tests: the numbers mean nothing, the records are real."""

CHECK_STEPS = 3
COOLDOWN_S = 1e-3
"""Untimed pause after each call when PyTorch is among the contenders (see time_contenders)."""
MAX_REPEATS = 300
OUTLIER_FRACTION = 1e-3
"""Share of parameters allowed to differ by up to two learning rates after the first update
(opposite Adam steps where a gradient is at rounding level, see
:func:`benchmarks.same_work.assert_same_work`); the losses must match with no allowance."""


# --- the registry --------------------------------------------------------------------------


def discover(
    registry: str = "CONTENDERS",
) -> tuple[dict[str, Callable[..., Contender]], dict[str, tuple[str, ...]]]:
    """Every contender module of this package: ``(name -> builder, name -> packages)`` from
    each module's ``registry`` dict (``CONTENDERS``: the MLP step; ``GRU_CONTENDERS``: the
    GRU step of :mod:`benchmarks.bench_gru_peers`; ``CNN_CONTENDERS``: the CNN step of
    :mod:`benchmarks.bench_cnn_peers`), funcnn's own first, then the modules in alphabetical
    order."""
    modules = sorted(m.name for m in pkgutil.iter_modules(__path__))
    modules.sort(key=lambda m: m != "baseline")
    builders: dict[str, Callable[..., Contender]] = {}
    packages: dict[str, tuple[str, ...]] = {}
    for module_name in modules:
        module = importlib.import_module(f"{__name__}.{module_name}")
        for name, build in getattr(module, registry, {}).items():
            builders[name] = build
            packages[name] = tuple(module.PACKAGES)
    return builders, packages


CONTENDERS, PACKAGES_OF = discover()
"""name -> builder ``(sizes, init, x, y, dtype, lr) -> Contender``; name -> the packages whose
versions its records carry."""
PACKAGES = tuple(
    dict.fromkeys([*(p for ps in PACKAGES_OF.values() for p in ps), *SKLEARN_PACKAGES])
)
"""Every library this benchmark may time (for the versions of a run)."""


# --- the same-work check -------------------------------------------------------------------


def work_trace(contender: Contender, n_steps: int = CHECK_STEPS) -> dict[str, Any]:
    """Run ``n_steps`` steps from the contender's current state: each step's loss, and the
    parameters after the first step (and each step's seconds).

    The losses of later steps depend on every earlier update, so they check model, loss,
    data, optimizer and learning rate together; the parameters are compared after one update,
    before the chaotic early phase of training (Adam's first steps move every weight by about
    lr at once) has amplified rounding differences between implementations.
    """
    import jax

    losses, params, seconds = [], None, []
    for i in range(n_steps):
        t0 = time.perf_counter()
        contender.block(contender.call())
        seconds.append(time.perf_counter() - t0)
        losses.append(to_numpy(contender.loss()))
        if i == 0:
            params = jax.tree.map(to_numpy, contender.params())
    return {"losses": losses, "params": params, "seconds": seconds}


def reference_trace(sizes, init, x, y, dtype, lr) -> dict[str, Any]:
    """funcnn's :func:`work_trace` from ``init`` (a reused compiled step)."""
    return work_trace(CONTENDERS[BASELINE](sizes, init, x, y, dtype, lr, fresh=False))


def verify_same_work(reference: dict, candidate: dict, *, dtype: str, what: str, lr: float):
    """Assert a contender's trace equals funcnn's (raises
    :class:`benchmarks.same_work.WorkMismatchError`).

    Returns:
        ``{"max_rel_err", "outliers", "elements"}`` of the parameter comparison.
    """
    assert_same_work(reference["losses"], candidate["losses"], dtype=dtype, what=f"{what}: losses")
    same = assert_same_work(
        reference["params"],
        candidate["params"],
        dtype=dtype,
        what=f"{what}: parameters",
        outlier_fraction=OUTLIER_FRACTION,
        outlier_atol=2.0 * lr,
    )
    return dataclasses.asdict(same)


# --- one workload --------------------------------------------------------------------------


def build_contenders(
    names, sizes, init, x, y, *, dtype, lr, label, progress=True, registry=None, options=None
):
    """``(name -> Contender, name -> why it was skipped)`` for ``names`` on one workload.

    ``registry`` (default :data:`CONTENDERS`) holds the builders; ``sizes`` is their first
    argument (the MLP's sizes; a :class:`benchmarks.nets.GRUSpec` for ``GRU_CONTENDERS``, a
    :class:`benchmarks.nets.CNNSpec` for ``CNN_CONTENDERS``); ``options`` are passed to every
    builder as keywords (the CNN's ``weight_decay``).
    """
    registry = CONTENDERS if registry is None else registry
    contenders: dict[str, Contender] = {}
    skipped: dict[str, str] = {}
    for name in progress_bar(names, desc=f"peers {label}", enabled=progress):
        try:
            contenders[name] = registry[name](sizes, init, x, y, dtype, lr, **(options or {}))
        except Unavailable as e:
            skipped[name] = str(e)
            print(f"[peers] {label}: skipping {name}: {e}")
    if BASELINE not in contenders:
        raise RuntimeError(f"funcnn's step could not be built: {skipped.get(BASELINE)}")
    return contenders, skipped


def check_contenders(contenders: dict[str, Contender], *, dtype, lr, label):
    """Every contender's steps from the same start must match funcnn's (its own trace from
    the shared initial weights is the reference): ``(name -> same-work summary, name ->
    seconds of its fastest traced step)``."""
    traces = {BASELINE: work_trace(contenders[BASELINE])}
    checks, per_call = {}, {}
    for name, c in contenders.items():
        trace = traces.get(name) or work_trace(c)
        checks[name] = verify_same_work(
            traces[BASELINE], trace, dtype=dtype, what=f"{name} vs funcnn ({label})", lr=lr
        )
        per_call[name] = min(trace["seconds"])
    return checks, per_call


def time_contenders(contenders: dict[str, Contender], per_call, budget_s, cooldown_s=None):
    """Time every contender interleaved: ``(name -> Timing, cooldown_s)``.

    The per-call cost of the traced steps sets the repeats. PyTorch's OpenMP workers keep
    spinning for a while after a call and would steal the cores of the call after it: with
    PyTorch in the group every call is followed by an untimed pause (:data:`COOLDOWN_S`).
    """
    if cooldown_s is None:
        torch_in = any(c.runtime == "torch" for c in contenders.values())
        cooldown_s = COOLDOWN_S if torch_in else 0.0
    per_round = sum(per_call.values()) + cooldown_s * len(contenders)
    timings = time_interleaved(
        {n: c.call for n, c in contenders.items()},
        repeats=repeats_for(per_round, budget_s, max_repeats=MAX_REPEATS),
        warmup=2,
        blockers={n: c.block for n, c in contenders.items()},
        cooldown_s=cooldown_s,
    )
    return timings, cooldown_s


def peer_record(
    bench: str,
    name: str,
    c: Contender,
    work: dict,
    t: Timing,
    base_t: Timing,
    *,
    same_work: dict,
    cooldown_s: float,
    device,
    packages: Sequence[str],
    **extra,
) -> dict:
    """The record of contender ``name`` timed ``t`` in the run where funcnn took ``base_t``:
    ``ratio`` of the medians and ``ratio_paired`` of the rounds, how it compiled and ran,
    its same-work check (:data:`CHECK_STEPS` steps)."""
    return make_record(
        bench,
        name,
        work,
        t,
        compile_s=c.compile_s,
        ratio=t.median / base_t.median,
        baseline=BASELINE,
        device=device,
        packages=packages,
        ratio_paired=paired_ratio(t, base_t),
        compile_method=c.compile_method,
        how=c.how,
        runtime=c.runtime,
        same_work=dict(same_work, steps=CHECK_STEPS),
        cooldown_s=cooldown_s,
        **extra,
    )


def compare_workload(
    sizes: Sequence[int],
    batch: int,
    *,
    dtype: str,
    budget_s: float,
    names: Sequence[str],
    lr: float = ADAM_LR,
    device=None,
    progress=True,
    cooldown_s: float | None = None,
) -> list[dict]:
    """Build every available contender for one workload, check it does funcnn's work, time
    them all interleaved; one record per contender that ran (the baseline's lists the
    skipped ones, and why, under ``skipped``)."""
    sizes = tuple(int(s) for s in sizes)
    x, y = mlp_batch(sizes, batch, dtype)
    base = funcnn_step(sizes, dtype=dtype, lr=lr, fresh=False)
    init = [{k: np.asarray(v) for k, v in layer.items()} for layer in base.state.params]
    label = f"{'-'.join(map(str, sizes))} batch {batch}"
    contenders, skipped = build_contenders(
        names, sizes, init, x, y, dtype=dtype, lr=lr, label=label, progress=progress
    )
    checks, per_call = check_contenders(contenders, dtype=dtype, lr=lr, label=label)
    timings, cooldown_s = time_contenders(contenders, per_call, budget_s, cooldown_s)
    base_t = timings[BASELINE]
    records = []
    for name, c in contenders.items():
        t = timings[name]
        rec = peer_record(
            NAME,
            name,
            c,
            workload("mlp", sizes, batch, dtype, optimizer="adam", lr=lr),
            t,
            base_t,
            same_work=checks[name],
            cooldown_s=cooldown_s,
            device=device,
            packages=PACKAGES_OF[name],
            flops=mlp_step_flops(sizes, batch),
            flops_formula=FLOPS_FORMULA,
        )
        records.append(rec)
        print(
            f"[peers] {label} {dtype}: {name:14s} {t.median * 1e3:8.3f} ms  "
            f"{rec['ratio']:5.2f}x funcnn"
        )
    if skipped:
        records[0]["skipped"] = skipped  # the baseline's record says who did not run, and why
    return records


# --- the benchmark -------------------------------------------------------------------------


def contender_names(names: Sequence[str] | None, cfg: dict, registry=None) -> list[str]:
    """The contenders to run: ``names`` (default all of ``registry``, by default
    :data:`CONTENDERS`), funcnn first; ``torch_compile`` only where the configuration asks
    for it."""
    registry = CONTENDERS if registry is None else registry
    names = list(names or registry)
    if not cfg.get("torch_compile", False) and "torch_compile" in names:
        names.remove("torch_compile")
        print(
            "[peers] skipping torch_compile: the quick suite leaves it out (inductor compiles "
            "for minutes on a small CPU); --suite full runs it"
        )
    names = [BASELINE] + [n for n in names if n != BASELINE]
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown peers {unknown}; valid: {sorted(registry)}.")
    return names


def run(
    quick: bool = True,
    *,
    dtype: str = "float32",
    config: dict | None = None,
    names: Sequence[str] | None = None,
    progress=True,
) -> list[dict]:
    """Compare funcnn's step with every installed peer, and its epoch with scikit-learn's.

    Args:
        quick: the quick suite's workloads (else the full suite's).
        dtype: "float32" or "bfloat16" (scikit-learn always runs float32 and only then).
        config: override ``{"workloads": [...], "budget_s", "torch_compile", "sklearn_epochs",
            "dataset"}`` (tests use :data:`SMOKE`).
        names: contenders to run (default: all of :data:`CONTENDERS`; funcnn always runs).
    """
    cfg = dict(config or suite_config(CONFIGS, quick))
    names = contender_names(names, cfg)
    device = device_info()
    records: list[dict] = []
    for sizes, batch in cfg["workloads"]:
        records += compare_workload(
            sizes,
            batch,
            dtype=dtype,
            budget_s=cfg["budget_s"],
            names=names,
            device=device,
            progress=progress,
        )
    if dtype != "float32":
        print(f"[peers] skipping sklearn: it trains in float32/float64 only (asked for {dtype})")
        return records
    synthetic = cfg.get("dataset") == "synthetic"
    return records + sklearn_comparison(
        dataset=cfg.get("dataset", "mnist1d"),
        epochs=cfg["sklearn_epochs"],
        device=device,
        hidden=(16, 16) if synthetic else (256, 256),
        batch=32 if synthetic else 128,
    )
