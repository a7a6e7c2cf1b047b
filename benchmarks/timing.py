"""How every benchmark times a call: compile apart, warm up, block, interleave, take medians.

* Data and parameters are put on the device before any timing.
* Compilation is timed apart: ``compile_s`` is the wall time of
  ``jax.jit(f).lower(*args).compile()`` (:func:`compile_jitted`, or the contender's own
  ``.lower``), never mixed into a step time.
* Warm-up calls run before measurement; every timed call is wrapped in
  ``time.perf_counter()`` and its result is ``block_until_ready()``-ed (a CUDA synchronize
  for PyTorch on a GPU) before the clock stops (:func:`block`).
* At least :data:`MIN_REPEATS` (20) timed calls; a :class:`Timing` gives the median, min and
  max.
* Contenders that are compared are timed *interleaved* (:func:`time_interleaved`), one call
  of each per round in a rotating order, so a ratio measured in the same run survives a noisy
  machine; :func:`paired_ratio` is the median of the per-round ratios.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

MIN_REPEATS = 20
"""The fewest timed calls any record may rest on."""


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
        """The record fields ``median_s``, ``min_s``, ``max_s`` and ``repeats``."""
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


# --- blocking and compiling ----------------------------------------------------------------


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

    ``jitted`` is a ``jax.jit`` (or ``nnx.jit``-, ``equinox.filter_jit``-) wrapped function;
    the returned executable runs without tracing or compiling again.
    """
    t0 = time.perf_counter()
    compiled = jitted.lower(*args, **kwargs).compile()
    return compiled, time.perf_counter() - t0


def time_first_call(call: Callable[[], Any], blocker: Callable[[Any], Any] = block) -> float:
    """Seconds of one blocked ``call()``: the compile time of a library without an AOT path
    (its first call traces, compiles and runs once)."""
    t0 = time.perf_counter()
    blocker(call())
    return time.perf_counter() - t0


# --- timing --------------------------------------------------------------------------------


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
    return time_interleaved({"call": call}, repeats=repeats, warmup=warmup)["call"]


def time_within_budget(call: Callable[[], Any], budget_s: float, *, warmup: int = 3) -> Timing:
    """Time ``call`` :data:`MIN_REPEATS` times, then, where its median leaves room in
    ``budget_s`` for more calls, time that many afresh (no warm-up: it is warm)."""
    first = time_calls(call, repeats=MIN_REPEATS, warmup=warmup)
    repeats = repeats_for(first.median, budget_s)
    if repeats > first.repeats:
        return time_calls(call, repeats=repeats, warmup=0)
    return first


def round_orders(names: Sequence[str], repeats: int, seed: int = 0) -> list[list[str]]:
    """The order of the calls in each round: with two contenders A B, B A, ...; with more, a
    fresh (seeded) permutation per round, so every contender follows every other equally
    often."""
    names = list(names)
    if len(names) <= 2:
        return [names if r % 2 == 0 else names[::-1] for r in range(repeats)]
    rng = np.random.default_rng(seed)
    return [[names[i] for i in rng.permutation(len(names))] for _ in range(repeats)]


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

    The rounds follow :func:`round_orders`, so caches, clock boost, a neighbour's burst of
    load and a previous contender's worker threads still spinning (OpenMP, Eigen) hit every
    contender alike.

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
    waits = {n: (blockers or {}).get(n, block) for n in names}
    for _ in range(warmup):
        for n in names:
            waits[n](calls[n]())
            if cooldown_s:
                time.sleep(cooldown_s)
    times: dict[str, list[float]] = {n: [] for n in names}
    perf = time.perf_counter
    for order in round_orders(names, repeats, seed):
        for n in order:
            fn, wait = calls[n], waits[n]
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


def progress_bar(iterable, *, desc: str, enabled: bool = True, total: int | None = None):
    """tqdm progress over ``iterable`` on stderr (plain iteration when disabled)."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr)
