"""The timing harness and the record schema every benchmark writes.

Method (the same for every script in ``benchmarks/``):

* Data and parameters are put on the device before any timing.
* Compilation is timed apart: ``compile_s`` is the wall time of
  ``jax.jit(f).lower(*args).compile()`` (or the contender's own ``.lower``), never mixed
  into a step time.
* Warm-up calls run before measurement; every timed call is wrapped in
  ``time.perf_counter()`` and its result is ``block_until_ready()``-ed (a CUDA synchronize
  for PyTorch on a GPU) before the clock stops.
* At least :data:`MIN_REPEATS` (20) timed calls; the record gives the median, min and max.
* Contenders that are compared are timed *interleaved*, one call of each per round in a
  rotating order, so a ratio measured in the same run survives a noisy machine.
* Before two contenders are compared they are run from the same initial parameters on the same
  batch and their losses and updated parameters are asserted equal to float tolerance
  (:func:`assert_same_work`): a benchmark never compares different work.

Record schema (one JSON object per measurement; :func:`validate_record` checks it)::

    bench                 str    which benchmark: "roofline", "step", "peers", "scaling",
                                 "manual_vs_autodiff", "loop", ...
    name                  str    the contender or variant within the bench ("funcnn", "haiku",
                                 "matmul_2048", ...)
    workload              dict   model (str), sizes (list[int] or None), batch (int or None),
                                 dtype (str), and anything else that defines the work
    device                dict   platform ("cpu", "gpu", "tpu"), device_kind, n_devices, ...
    versions              dict   python, jax, jaxlib, optax, numpy, funcnn, and the peers
    median_s, min_s, max_s float seconds per call
    repeats               int    number of timed calls (>= 20)
    compile_s             float or None   compile time, measured apart (None: not compiled)
    flops                 float  (where it applies) floating-point operations per call
    flops_formula         str    how ``flops`` was counted
    achieved_flops_per_s  float  flops / median_s
    fraction_of_roofline  float  achieved_flops_per_s / the measured matmul roofline
    ratio                 float  (where it applies) median_s / the baseline's median_s, same run
    baseline              str    the name of the contender ``ratio`` is measured against

Scripts written elsewhere may return records with ``batch``, ``dtype``, ``sizes`` or ``model``
at the top level, or without ``device``/``versions``: :func:`normalize_record` moves and fills
them so every record in ``results.json`` has the schema above.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import importlib.metadata
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

MIN_REPEATS = 20
"""The fewest timed calls any record may rest on."""

SCHEMA_VERSION = 1

REQUIRED_FIELDS: dict[str, tuple[type, ...]] = {
    "bench": (str,),
    "name": (str,),
    "workload": (dict,),
    "device": (dict,),
    "versions": (dict,),
    "median_s": (float,),
    "min_s": (float,),
    "max_s": (float,),
    "repeats": (int,),
    "compile_s": (float, type(None)),
}
"""Fields every record has, with their JSON types."""

WORKLOAD_FIELDS: dict[str, tuple[type, ...]] = {
    "model": (str,),
    "sizes": (list, type(None)),
    "batch": (int, type(None)),
    "dtype": (str,),
}
"""Fields every ``record["workload"]`` has."""

OPTIONAL_FIELDS: dict[str, tuple[type, ...]] = {
    "flops": (float, int),
    "flops_formula": (str,),
    "achieved_flops_per_s": (float,),
    "fraction_of_roofline": (float,),
    "ratio": (float,),
    "baseline": (str,),
    "notes": (str,),
}
"""Fields a record has where they apply (``ratio`` always comes with ``baseline``)."""

DTYPES = ("float32", "bfloat16")

# Relative and absolute tolerances for "the same work" checks, per dtype of the computation.
SAME_WORK_TOL = {"float32": (2e-4, 2e-5), "bfloat16": (5e-2, 2e-2), "float64": (1e-9, 1e-12)}


class WorkMismatchError(AssertionError):
    """Two contenders of a comparison did not compute the same values."""


# --- device and versions -----------------------------------------------------------------

_VERSION_PACKAGES = (
    "jax",
    "jaxlib",
    "optax",
    "numpy",
    "funcnn",
    "flax",
    "equinox",
    "dm-haiku",
    "torch",
    "scikit-learn",
)

_ENV_PREFIXES = ("XLA_", "JAX_", "OPENBLAS", "OMP_", "MKL_", "TF_CPP", "CUDA_VISIBLE")


def versions() -> dict[str, str | None]:
    """Versions of Python and of every library a benchmark may use (None when absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in _VERSION_PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info() -> dict[str, Any]:
    """The device JAX runs on: platform, kind, count, host CPU and the relevant env vars."""
    import jax

    devices = jax.devices()
    d0 = devices[0]
    return {
        "platform": d0.platform,
        "device_kind": d0.device_kind,
        "n_devices": len(devices),
        "host_cpu": _cpu_model(),
        "host_cores": os.cpu_count(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(_ENV_PREFIXES)},
    }


def device_slug(device: Mapping[str, Any] | None = None) -> str:
    """A short file-name-safe name for the device: "cpu", "nvidia-h100-80gb-hbm3", ..."""
    device = device or device_info()
    if device["platform"] == "cpu":
        return "cpu"
    kind = str(device.get("device_kind") or device["platform"]).lower()
    slug = "".join(c if c.isalnum() else "-" for c in kind).strip("-")
    while "--" in slug:
        slug = slug.replace("--", "-")
    return slug or device["platform"]


def default_out_dir(suite: str, dtype: str, device: Mapping[str, Any] | None = None) -> str:
    """``benchmarks/results/<date>-<device>-<suite>[-<dtype>]``."""
    date = _dt.date.today().isoformat()
    name = f"{date}-{device_slug(device)}-{suite}"
    if dtype != "float32":
        name += f"-{dtype}"
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", name)


# --- statistics ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds per timed call, in the order measured."""

    times: tuple[float, ...]

    def __post_init__(self):
        if not self.times:
            raise ValueError("Timing needs at least one measured call.")

    @property
    def median(self) -> float:
        return float(np.median(self.times))

    @property
    def min(self) -> float:
        return float(np.min(self.times))

    @property
    def max(self) -> float:
        return float(np.max(self.times))

    @property
    def repeats(self) -> int:
        return len(self.times)

    def fields(self) -> dict[str, float | int]:
        return {
            "median_s": self.median,
            "min_s": self.min,
            "max_s": self.max,
            "repeats": self.repeats,
        }


def paired_ratio(a: Timing, b: Timing) -> float:
    """Median over rounds of ``a_i / b_i`` for two interleaved timings of equal length."""
    if a.repeats != b.repeats:
        raise ValueError(f"paired_ratio needs equal repeats; got {a.repeats} and {b.repeats}.")
    return float(np.median(np.asarray(a.times) / np.asarray(b.times)))


# --- blocking and timing -----------------------------------------------------------------


def block(out: Any) -> Any:
    """Wait until every array in ``out`` is computed (JAX arrays; PyTorch tensors on CUDA)."""
    import jax

    jax.block_until_ready(out)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        leaves = jax.tree_util.tree_leaves(out)
        if any(isinstance(x, torch.Tensor) and x.is_cuda for x in leaves):
            torch.cuda.synchronize()
    return out


def compile_jitted(jitted: Callable, *args, **kwargs) -> tuple[Callable, float]:
    """``jitted.lower(*args, **kwargs).compile()``, timed: returns ``(compiled, seconds)``.

    ``jitted`` is a ``jax.jit`` (or ``equinox.filter_jit``-) wrapped function; the returned
    executable runs without tracing or compiling again.
    """
    t0 = time.perf_counter()
    compiled = jitted.lower(*args, **kwargs).compile()
    return compiled, time.perf_counter() - t0


def repeats_for(
    seconds_per_call: float, budget_s: float, *, min_repeats: int = MIN_REPEATS, max_repeats=500
) -> int:
    """How many timed calls fit in ``budget_s`` (at least ``min_repeats``)."""
    if min_repeats < MIN_REPEATS:
        raise ValueError(f"min_repeats must be >= {MIN_REPEATS}; got {min_repeats}.")
    if seconds_per_call <= 0 or not math.isfinite(seconds_per_call):
        return min_repeats
    return int(min(max_repeats, max(min_repeats, budget_s // seconds_per_call)))


def time_calls(call: Callable[[], Any], *, repeats: int = MIN_REPEATS, warmup: int = 3) -> Timing:
    """Time ``repeats`` calls of ``call()`` (after ``warmup`` untimed ones), blocking each.

    ``call`` takes no arguments; a training step that consumes its state (donated buffers)
    keeps the state in a closure, see :class:`Chain`.
    """
    return time_interleaved({"_": call}, repeats=repeats, warmup=warmup)["_"]


def time_interleaved(
    calls: Mapping[str, Callable[[], Any]],
    *,
    repeats: int = MIN_REPEATS,
    warmup: int = 3,
    blockers: Mapping[str, Callable[[Any], Any]] | None = None,
    cooldown_s: float = 0.0,
    seed: int = 0,
) -> dict[str, Timing]:
    """Time several contenders A/B-interleaved: each round calls every contender once.

    With two contenders the rounds alternate A B, B A; with more, each round's order is a fresh
    (seeded) permutation, so every contender follows every other equally often: caches, clock
    boost, a neighbour's burst of load and a previous contender's worker threads still
    spinning (OpenMP, Eigen) hit every contender alike.

    Args:
        calls: name -> zero-argument callable returning something to block on.
        repeats: timed rounds (>= :data:`MIN_REPEATS`).
        warmup: untimed rounds first.
        blockers: optional name -> function that waits for that contender's result (default
            :func:`block`).
        cooldown_s: untimed pause after every call, letting worker threads of the call before
            go idle (needed when libraries with different thread pools alternate).
        seed: of the round orders.

    Returns:
        name -> :class:`Timing` with ``repeats`` entries each.
    """
    if repeats < MIN_REPEATS:
        raise ValueError(f"repeats must be >= {MIN_REPEATS} (medians need them); got {repeats}.")
    if not calls:
        raise ValueError("calls must name at least one contender.")
    names = list(calls)
    blockers = dict(blockers or {})
    rng = np.random.default_rng(seed)
    for _ in range(warmup):
        for n in names:
            blockers.get(n, block)(calls[n]())
            if cooldown_s:
                time.sleep(cooldown_s)
    times: dict[str, list[float]] = {n: [] for n in names}
    perf = time.perf_counter
    for r in range(repeats):
        if len(names) <= 2:
            order = names if r % 2 == 0 else names[::-1]
        else:
            order = [names[i] for i in rng.permutation(len(names))]
        for n in order:
            fn, wait = calls[n], blockers.get(n, block)
            t0 = perf()
            wait(fn())
            times[n].append(perf() - t0)
            if cooldown_s:
                time.sleep(cooldown_s)
    return {n: Timing(tuple(ts)) for n, ts in times.items()}


class Chain:
    """A step whose output feeds its next call: ``state = step(*state, *inputs)``.

    Training steps donate their parameter and optimizer buffers, so each timed call must take
    the previous call's outputs. ``Chain(step, (params, opt_state), (x, y), n_state=2)``
    calls ``step(params, opt_state, x, y)`` -> ``(params, opt_state, *extras)`` and keeps the
    first ``n_state`` outputs as the next state; ``last`` holds the most recent full output.
    """

    def __init__(self, step: Callable, state: Sequence, inputs: Sequence = (), n_state=None):
        self.step = step
        self.state = tuple(state)
        self.inputs = tuple(inputs)
        self.n_state = len(self.state) if n_state is None else n_state
        self.last: Any = None

    def __call__(self):
        out = self.step(*self.state, *self.inputs)
        self.state = tuple(out[: self.n_state])
        self.last = out
        return out


# --- same-work assertion -------------------------------------------------------------------


def _to_numpy(x) -> np.ndarray:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(np.asarray(x, dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class SameWork:
    """What :func:`assert_same_work` saw: the largest scaled error among the elements within
    tolerance (< 1), and how many of ``elements`` were tolerated outliers."""

    max_rel_err: float
    outliers: int
    elements: int


def assert_same_work(
    reference: Any,
    candidate: Any,
    *,
    dtype: str = "float32",
    what: str = "values",
    rtol: float | None = None,
    atol: float | None = None,
    outlier_fraction: float = 0.0,
    outlier_atol: float = 0.0,
) -> SameWork:
    """Assert two contenders computed the same values (pytrees of arrays, same structure).

    Every element must satisfy ``|a - b| <= atol + rtol |a|``, except that up to
    ``outlier_fraction`` of all elements may instead be within ``outlier_atol``. Parameters
    after Adam steps need that allowance: Adam divides each coordinate's step by the scale of
    its own gradient, so where a gradient is as small as float rounding (a unit that is dead on
    almost the whole batch), two correct implementations that sum in different orders can step
    that coordinate by about ``lr`` in opposite directions. A different workload (another
    learning rate, loss, batch or initialization) moves every element, not a few.

    Args:
        reference: e.g. ``{"losses": [...], "params": funcnn-layout params}`` of the baseline.
        candidate: the same structure from the contender, converted to the baseline's layout.
        dtype: dtype of the computation; picks the default tolerance in :data:`SAME_WORK_TOL`.
        what: a name for the error message ("haiku vs funcnn").
        rtol, atol: override the dtype's tolerance.
        outlier_fraction: the share of elements (over the whole tree) allowed past
            ``atol + rtol |a|``.
        outlier_atol: the bound those outliers must still meet.

    Returns:
        A :class:`SameWork` summary.

    Raises:
        WorkMismatchError: structures, shapes or values differ.
    """
    import jax

    d_rtol, d_atol = SAME_WORK_TOL.get(dtype, SAME_WORK_TOL["float32"])
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    ref_leaves, _ = jax.tree_util.tree_flatten_with_path(reference)
    cand_leaves, _ = jax.tree_util.tree_flatten_with_path(candidate)
    if len(ref_leaves) != len(cand_leaves):
        raise WorkMismatchError(
            f"{what}: different structures ({len(ref_leaves)} vs {len(cand_leaves)} leaves)."
        )
    worst, outliers, total = 0.0, 0, 0

    def fail(where, a, b, err, why):
        i = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
        raise WorkMismatchError(
            f"{what}: {where} {why}: at index {tuple(int(j) for j in i)} got {b[i]!r}, "
            f"expected {a[i]!r} (max |diff| {float(np.max(np.abs(a - b))):.3g}). The "
            "contenders do not do the same work."
        )

    for (path, a), (_, b) in zip(ref_leaves, cand_leaves):
        a, b = _to_numpy(a), _to_numpy(b)
        where = jax.tree_util.keystr(path)
        if a.shape != b.shape:
            raise WorkMismatchError(f"{what}: {where} has shape {b.shape}; expected {a.shape}.")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            raise WorkMismatchError(f"{what}: {where} is not finite.")
        diff = np.abs(a - b)
        err = diff / (atol + rtol * np.abs(a))
        bad = err > 1.0
        total += a.size
        if np.any(bad):
            if outlier_fraction <= 0.0:
                fail(where, a, b, err, f"differs beyond rtol={rtol:g}, atol={atol:g}")
            if np.any(diff[bad] > outlier_atol):
                fail(where, a, b, diff, f"differs beyond {outlier_atol:g}")
            outliers += int(np.sum(bad))
        if np.any(~bad):
            worst = max(worst, float(np.max(err[~bad])))
    if outliers > outlier_fraction * total:
        raise WorkMismatchError(
            f"{what}: {outliers} of {total} elements differ beyond rtol={rtol:g}, atol={atol:g} "
            f"(at most {outlier_fraction:g} of them may). The contenders do not do the same work."
        )
    return SameWork(worst, outliers, total)


# --- the MLP workload shared by step, peers and scaling -------------------------------------

ADAM_LR = 1e-3
ADAM_EPS = 1e-8  # optax.adam's and torch.optim.Adam's default; stated so peers match it.
FLOPS_FORMULA = "6 * params * batch (forward 2PB, backward 4PB: the issue's count)"
FLOPS_EXACT_FORMULA = (
    "2 * batch * (3 * sum(n_in * n_out) - n_0 * n_1): every matmul of forward and backward, "
    "without the input gradient of the first layer that a training step never computes"
)


def mlp_params(sizes: Sequence[int]) -> int:
    """Weights and biases of a dense MLP with layer sizes ``sizes``."""
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


def mlp_step_flops(sizes: Sequence[int], batch: int) -> int:
    """FLOPs of one training step counted the issue's way: ``6 * params * batch``."""
    return 6 * mlp_params(sizes) * int(batch)


def mlp_step_matmul_flops(sizes: Sequence[int], batch: int) -> int:
    """The matmul FLOPs a training step really performs (see :data:`FLOPS_EXACT_FORMULA`)."""
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2 * int(batch) * (3 * macs - sizes[0] * sizes[1])


def jnp_dtype(dtype: str):
    import jax.numpy as jnp

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}; got {dtype!r}.")
    return jnp.dtype(dtype)


def mlp_batch(sizes: Sequence[int], batch: int, dtype: str = "float32", seed: int = 0):
    """A fixed batch on the device: ``x (batch, n_0)`` standard normal, ``y (batch,)`` int32
    labels in ``[0, n_L)`` (drawn with NumPy's ``default_rng(seed)``, then ``device_put``)."""
    import jax

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], size=(batch,), dtype=np.int32)
    return jax.device_put(x.astype(jnp_dtype(dtype))), jax.device_put(y)


@dataclasses.dataclass
class FuncnnStep:
    """funcnn's training step for ``mlp(sizes, "relu")`` + softmax cross-entropy + Adam.

    ``step`` is ``funcnn.train.make_train_step(model, "softmax_cross_entropy", adam,
    grad_norm=False)``: ``step(state, (x, y)) -> (state, {"loss"})`` with the state donated
    (the engine's step without its optional gradient-norm metric, which no peer computes:
    the contenders do the same work).

    Attributes:
        model: the ``funcnn.MLP``.
        step: the jitted step.
        optimizer: ``optax.adam(lr, eps=1e-8)``.
        state: the initial ``funcnn.train.TrainState``.
        impl: which API built the step (recorded in the workload).
    """

    model: Any
    step: Callable
    optimizer: Any
    state: Any
    impl: str

    def state_from(self, params) -> Any:
        """A fresh TrainState at ``params`` (copied onto the device: the step donates it)."""
        import jax
        import jax.numpy as jnp

        from funcnn.train import TrainState

        params = jax.tree_util.tree_map(jnp.array, params)
        return TrainState(
            params, self.optimizer.init(params), jnp.zeros((), jnp.int32), jax.random.key(0)
        )

    def chain(self, x, y, state=None) -> Chain:
        """Consecutive steps on the batch ``(x, y)`` from ``state`` (default: the initial)."""
        return Chain(self.step, (self.state if state is None else state,), ((x, y),), n_state=1)

    def compile(self, x, y, state=None) -> tuple[Callable, float]:
        """``step.lower(state, (x, y)).compile()``, timed."""
        return compile_jitted(self.step, self.state if state is None else state, (x, y))

    @staticmethod
    def loss(out) -> Any:
        """The loss (before the update) of a step's output ``(state, metrics)``."""
        return out[1]["loss"]

    @staticmethod
    def params(state) -> Any:
        return state.params


def funcnn_step(
    sizes: Sequence[int],
    *,
    dtype: str = "float32",
    lr: float = ADAM_LR,
    seed: int = 0,
    fresh: bool = True,
) -> FuncnnStep:
    """funcnn's training step from its public API, and an initial state.

    ``funcnn.mlp(sizes, "relu")``, the "softmax_cross_entropy" loss (batch mean) and
    ``optax.adam(lr, eps=1e-8)`` through ``funcnn.train.make_train_step``.

    Args:
        sizes: ``(n_0, ..., n_L)``.
        dtype: of parameters (and so of the optimizer state).
        lr: Adam's learning rate.
        seed: of the initial parameters (``model.init(jax.random.key(seed))``).
        fresh: a newly built optimizer and so a newly jitted step whose compile time is real;
            ``False`` reuses the one built before for the same model and lr (reference
            runs and tests, where recompiling is wasted time).
    """
    import jax

    import funcnn

    model = funcnn.mlp(tuple(int(s) for s in sizes), "relu")
    params = model.init(jax.random.key(seed), dtype=jnp_dtype(dtype))
    step, optimizer = (_build_step if fresh else _cached_step)(model, float(lr))
    fs = FuncnnStep(
        model,
        step,
        optimizer,
        None,
        "funcnn.train.make_train_step(grad_norm=False) (donated state)",
    )
    fs.state = fs.state_from(params)
    return fs


def _build_step(model, lr: float):
    import optax

    from funcnn.train import make_train_step

    optimizer = optax.adam(lr, eps=ADAM_EPS)
    return make_train_step(model, "softmax_cross_entropy", optimizer, grad_norm=False), optimizer


_cached_step = functools.lru_cache(maxsize=None)(_build_step)


# --- records -------------------------------------------------------------------------------


def workload(
    model: str, sizes: Sequence[int] | None, batch: int | None, dtype: str, **extra
) -> dict[str, Any]:
    """The workload dict of a record."""
    return {
        "model": model,
        "sizes": None if sizes is None else [int(s) for s in sizes],
        "batch": None if batch is None else int(batch),
        "dtype": str(dtype),
        **extra,
    }


def make_record(
    bench: str,
    name: str,
    work: Mapping[str, Any],
    timing: Timing,
    *,
    compile_s: float | None,
    flops: float | None = None,
    flops_formula: str | None = None,
    roofline: float | None = None,
    ratio: float | None = None,
    baseline: str | None = None,
    device: Mapping[str, Any] | None = None,
    **extra,
) -> dict[str, Any]:
    """A record with the schema of this module's docstring (validated before returning)."""
    rec: dict[str, Any] = {
        "bench": bench,
        "name": name,
        "workload": dict(work),
        "device": dict(device or device_info()),
        "versions": versions(),
        **timing.fields(),
        "compile_s": None if compile_s is None else float(compile_s),
    }
    if flops is not None:
        rec["flops"] = float(flops)
        if flops_formula:
            rec["flops_formula"] = flops_formula
        rec["achieved_flops_per_s"] = float(flops) / timing.median
        if roofline:
            rec["fraction_of_roofline"] = rec["achieved_flops_per_s"] / float(roofline)
    if ratio is not None:
        if not baseline:
            raise ValueError("a record with a ratio needs the name of its baseline.")
        rec["ratio"] = float(ratio)
        rec["baseline"] = baseline
    rec.update(_jsonable(extra))
    check_record(rec)
    return rec


def _jsonable(x):
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def validate_record(rec: Any) -> list[str]:
    """Everything wrong with a record (empty list: it has the schema)."""
    if not isinstance(rec, Mapping):
        return [f"a record must be a dict; got {type(rec).__name__}."]
    problems = []

    def check(container, fields, prefix, required):
        for key, types in fields.items():
            if key not in container:
                if required:
                    problems.append(f"missing field {prefix}{key!r}.")
                continue
            v = container[key]
            if isinstance(v, bool) or not isinstance(v, types):
                want = " or ".join(t.__name__ for t in types)
                problems.append(f"{prefix}{key!r} must be {want}; got {type(v).__name__}.")

    check(rec, REQUIRED_FIELDS, "", True)
    check(rec, OPTIONAL_FIELDS, "", False)
    if isinstance(rec.get("workload"), Mapping):
        check(rec["workload"], WORKLOAD_FIELDS, "workload.", True)
    if isinstance(rec.get("device"), Mapping):
        for key in ("platform", "device_kind"):
            if not isinstance(rec["device"].get(key), str):
                problems.append(f"device.{key} must be a string.")
    if isinstance(rec.get("repeats"), int) and rec["repeats"] < MIN_REPEATS:
        problems.append(f"repeats must be >= {MIN_REPEATS}; got {rec['repeats']}.")
    times = [rec.get(k) for k in ("min_s", "median_s", "max_s")]
    if all(isinstance(t, float) for t in times):
        if not all(math.isfinite(t) and t > 0 for t in times):
            problems.append(f"times must be finite and positive; got {times}.")
        elif not times[0] <= times[1] <= times[2]:
            problems.append(f"need min_s <= median_s <= max_s; got {times}.")
    if ("ratio" in rec) != ("baseline" in rec):
        problems.append("ratio and baseline come together.")
    if "fraction_of_roofline" in rec and "achieved_flops_per_s" not in rec:
        problems.append("fraction_of_roofline needs achieved_flops_per_s.")
    try:
        json.dumps(rec, allow_nan=False)
    except (TypeError, ValueError) as e:
        problems.append(f"not JSON-serializable: {e}.")
    return problems


def check_record(rec: Any) -> None:
    """Raise ``ValueError`` listing every schema problem of ``rec``."""
    problems = validate_record(rec)
    if problems:
        name = rec.get("bench", "?") if isinstance(rec, Mapping) else "?"
        raise ValueError(f"invalid benchmark record ({name}): " + " ".join(problems))


def normalize_record(rec: Mapping[str, Any], *, bench: str | None = None) -> dict[str, Any]:
    """Bring a record from another script to the schema: move loose workload keys into
    ``workload``, fill ``device``/``versions``/``compile_s``, coerce numbers to Python types."""
    out = _jsonable(dict(rec))
    if bench is not None:
        out.setdefault("bench", bench)
    out.setdefault("name", str(out.get("bench", "?")))
    work = dict(out.get("workload") or {}) if isinstance(out.get("workload"), Mapping) else {}
    if isinstance(out.get("workload"), str):
        work.setdefault("model", out["workload"])
    for key in ("model", "sizes", "batch", "dtype"):
        if key in out and key not in work:
            work[key] = out.pop(key)
    work.setdefault("model", str(out.get("bench", "?")))
    work.setdefault("sizes", None)
    work.setdefault("batch", None)
    work.setdefault("dtype", "float32")
    if isinstance(work.get("sizes"), tuple):
        work["sizes"] = list(work["sizes"])
    if work.get("dtype") is not None:
        work["dtype"] = str(work["dtype"])
    out["workload"] = work
    dev = out.get("device")
    if not isinstance(dev, Mapping):
        info = device_info()
        if isinstance(dev, str):
            info["reported_as"] = dev
        out["device"] = info
    if not isinstance(out.get("versions"), Mapping):
        out["versions"] = versions()
    out.setdefault("compile_s", None)
    for key in ("median_s", "min_s", "max_s", "compile_s", "ratio", "achieved_flops_per_s"):
        if isinstance(out.get(key), int) and not isinstance(out.get(key), bool):
            out[key] = float(out[key])
    if isinstance(out.get("repeats"), float) and out["repeats"].is_integer():
        out["repeats"] = int(out["repeats"])
    return out


# --- atomic writing ------------------------------------------------------------------------


def _atomic_write(path: str, write: Callable[[Any], None], mode: str) -> str:
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_text_atomic(path: str, text: str) -> str:
    """Write ``text`` to ``path`` via a temporary file in the same directory + ``os.replace``."""
    return _atomic_write(path, lambda f: f.write(text), "w")


def write_json_atomic(path: str, obj: Any) -> str:
    """Write ``obj`` as indented JSON (no NaN) to ``path`` atomically."""
    text = json.dumps(_jsonable(obj), indent=1, allow_nan=False) + "\n"
    return write_text_atomic(path, text)


def save_figure_atomic(fig, path: str) -> str:
    """Save a matplotlib figure as PNG to ``path`` atomically."""
    return _atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110), "wb")


def progress(iterable, *, desc: str, enabled: bool = True, total: int | None = None):
    """tqdm progress over ``iterable`` on stderr (plain iteration when disabled)."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr)
