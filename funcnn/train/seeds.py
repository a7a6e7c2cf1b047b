"""Many training runs at once: N seeds (times a grid of one hyperparameter) in one program.

Every run's :class:`~funcnn.train.state.TrainState` is stacked along a leading "runs" axis
and the compiled epoch of :mod:`funcnn.train.step` is ``jax.vmap``-ped over it (and over the
hyperparameter's value, which enters the optimizer or the loss as a traced scalar). The
training set is shared. Run ``r`` with seed ``s`` and value ``v`` computes what
``fit(model, data, seed=s, <name>=v)`` computes: the same keys, the same permutations, the
same dropout masks, the same updates; only the floating-point order inside batched matrix
products may differ.

``fit_seeds`` runs in one process: all its runs share one device. Under several processes
(``jax.distributed``) it refuses to start, since every process would train every run again
and write the same checkpoints; the runs exchange nothing, so seeds spread over machines as
separate jobs, one ``fit_seeds`` (``funcnn train --seeds K --seed S --out DIR``) per machine,
without ``jax.distributed``.
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from funcnn.train.config import GRID_NAMES, RunConfig, check_seeds, run_config
from funcnn.train.evaluate import make_eval_fn, precompile
from funcnn.train.inputs import prepare, resolve_dataset
from funcnn.train.loop import Plan, compile_clock, run_loop
from funcnn.train.optim import build_optimizer, epoch_end_lrs
from funcnn.train.state import TrainState, init_params, seed_key
from funcnn.train.step import batches_for, make_epoch_fn


class SeedsResult(NamedTuple):
    """What :func:`fit_seeds` returns (leading axis of every array = runs).

    Attributes:
        params: stacked params, e.g. ``[{"w": (runs, n_in, n_out), "b": (runs, n_out)}]``.
        history: ``name -> (runs, epochs)`` arrays (``epoch`` and ``time_s``: ``(epochs,)``).
        state: the stacked final :class:`TrainState`.
        runs: one dict per run: ``{"seed": s}`` plus ``{name: value}`` for a grid.
        wall_time_s: seconds for the whole call, compilation included.
        final: ``name -> (runs,)`` metrics of the last epoch.
        config: the resolved configuration as JSON (as ``FitResult.config``).
        compile_time_s: seconds the background compilation took (as
            ``FitResult.compile_time_s``).
    """

    params: Any
    history: dict[str, np.ndarray]
    state: TrainState
    runs: list[dict]
    wall_time_s: float
    final: dict[str, np.ndarray]
    config: dict[str, Any]
    compile_time_s: float | None = None


def _vmap_epoch(run_one: Callable, batch_size: int, data_seed: int | None) -> Callable:
    """``epoch(states, hypers, x, y)`` over stacked runs from ``run_one(state, hyper, xb, yb)``.

    Each run draws its own batches (under the vmap), unless ``data_seed`` fixes one data
    order for all runs: then the batches are drawn once, outside the vmap, and shared.
    """
    if data_seed is None:

        def one(state, hyper, x, y):
            return run_one(state, hyper, *batches_for(state, x, y, batch_size))

        return jax.vmap(one, in_axes=(0, 0, None, None))

    def epoch(states, hypers, x, y):
        first = jax.tree.map(lambda a: a[0], states)  # every run is at the same step
        xb, yb = batches_for(first, x, y, batch_size, data_seed)
        return jax.vmap(run_one, in_axes=(0, 0, None, None))(states, hypers, xb, yb)

    return epoch


@functools.lru_cache(maxsize=32)
def _programs(model, loss, optimizer_items: tuple, epoch_items: tuple, grid_name):
    """(optimizer init, compiled epoch, compiled eval) over stacked runs, cached by
    configuration: ``optimizer_items`` are the arguments of ``build_optimizer``,
    ``epoch_items`` those of ``make_epoch_fn``; the grid's hyperparameter, if any, replaces
    one of them (lr, weight_decay, momentum, l2 or l1) as a traced scalar."""
    base = dict(optimizer_items) | dict(epoch_items)
    batch_size, data_seed = base["batch_size"], base.pop("data_seed")
    epoch_names = [k for k, _ in epoch_items if k != "data_seed"]

    def build(hyper):
        v = dict(base) if grid_name is None else {**base, grid_name: hyper}
        epoch_kw = {k: v.pop(k) for k in epoch_names}
        opt, _ = build_optimizer(**v)
        return opt, epoch_kw

    def opt_init(params, hyper):
        opt, _ = build(hyper)
        return opt.init(params)

    def run_one(state, hyper, xb, yb):
        opt, epoch_kw = build(hyper)
        return make_epoch_fn(model, loss, opt, **epoch_kw).run(state, xb, yb)

    init = jax.vmap(opt_init)  # eager: a few zeros, nothing worth compiling
    epoch = jax.jit(_vmap_epoch(run_one, batch_size, data_seed), donate_argnums=0)
    evaluate = jax.jit(jax.vmap(make_eval_fn(model, loss), in_axes=(0, None, None)))
    return init, epoch, evaluate


def _init_runs(model, opt_init, keys, hypers, dtype) -> TrainState:
    """The stacked initial states: each run's params exactly as ``init_state`` draws them
    (``model.init`` per run, outside any vmap), then the optimizer states under vmap."""
    drawn = [init_params(model, key, dtype) for key in keys]  # exactly as init_state
    params = [p for p, _ in drawn]
    run_keys = [k for _, k in drawn]
    params = jax.tree.map(lambda *xs: jnp.stack(xs), *params)
    opt_state = opt_init(params, hypers)
    steps = jnp.zeros((len(keys),), jnp.int32)
    return TrainState(params, opt_state, steps, jnp.stack(run_keys))


def _with_hypers(epoch, hypers, states, x, y):
    return epoch(states, hypers, x, y)


def grid_runs(config: RunConfig) -> list[dict]:
    """One dict per run, ``values x seeds`` value-major: ``{"seed": s}``, plus
    ``{name: value}`` with a grid."""
    if config.grid is None:
        return [{"seed": s} for s in config.seeds]
    name, values = config.grid
    return [{name: v, "seed": s} for v, s in itertools.product(values, config.seeds)]


def fit_seeds(
    model,
    dataset,
    seeds: Sequence[int] | None = None,
    *,
    config: RunConfig | None = None,
    callback: Callable | None = None,
    **options,
) -> SeedsResult:
    """Train one run per seed (per grid value and seed) in one compiled program (``jax.vmap``).

    Args:
        model, dataset, callback: as in :func:`funcnn.train.fit` (a checkpoint holds the
            stacked state of all runs).
        seeds: one run per seed (``jax.random.key(seed)``, exactly as ``fit(seed=seed)``);
            may instead be given in ``config``. With ``data_seed`` all runs see the same
            batches, drawn once per epoch for all of them (much cheaper for small models,
            where shuffling is most of an epoch).
        config: a :class:`RunConfig`; default ``RunConfig()``.
        **options: fields of :class:`RunConfig`, as for ``fit``, and ``grid``: optional
            ``(name, values)`` with name in :data:`GRID_NAMES` ("lr", "weight_decay", "l2",
            "l1", "momentum"): the runs are the product ``values x seeds``, value-major
            (run ``i * len(seeds) + j`` has value ``i`` and seed ``j``). Early stopping and
            ``mesh`` are not supported.

    Returns:
        :class:`SeedsResult` with stacked params and ``(runs, epochs)`` histories.
    """
    t0 = time.perf_counter()
    if "mesh" in options:
        raise ValueError("fit_seeds does not support mesh=; use fit for it.")
    if jax.process_count() > 1:
        raise ValueError(
            f"fit_seeds trains all its runs on one device of one process; under "
            f"{jax.process_count()} processes (jax.distributed) each would train every run "
            "again. Train one run data-parallel with fit (funcnn train without --seeds), or "
            "spread the seeds over separate jobs without jax.distributed (funcnn train --seeds "
            "K --seed S --out DIR on each machine)."
        )
    if seeds is not None:
        options["seeds"] = check_seeds(seeds)
    config = run_config(config, options, "fit_seeds")
    if config.seeds is None:
        raise TypeError("fit_seeds needs seeds= (a sequence of integers).")
    prep = prepare(model, resolve_dataset(dataset), config)
    config, splits, dtype = prep.config, prep.splits, prep.config.dtype
    runs = grid_runs(config)
    grid_name = config.grid[0] if config.grid is not None else None
    keys = [seed_key(r["seed"]) for r in runs]
    hypers = jnp.asarray([r[grid_name] if grid_name else 0.0 for r in runs], dtype)
    opt_kwargs = config.optimizer_kwargs(prep.n_batches)
    epoch_items = tuple(config.epoch_kwargs().items())
    init, epoch, evaluate = _programs(
        model, config.loss, tuple(opt_kwargs.items()), epoch_items, grid_name
    )
    # Compile the epoch and the evaluations while the params are drawn.
    stacked = jax.eval_shape(lambda ks: _init_runs(model, init, ks, hypers, dtype), jnp.stack(keys))
    t_compile = time.perf_counter()
    pending = precompile(epoch, evaluate, stacked, splits, hypers)
    clock = compile_clock(pending, t_compile)
    state = _init_runs(model, init, keys, hypers, dtype)
    sched = None if grid_name == "lr" else build_optimizer(**opt_kwargs)[1]
    lrs = epoch_end_lrs(sched, config.epochs, prep.n_batches)
    desc = f"{len(runs)} runs of {model.kind}"
    run_epoch = functools.partial(_with_hypers, epoch, hypers)
    plan = Plan(run_epoch, evaluate, splits, config, prep.record, prep.n_batches, lrs, runs, desc)
    out = run_loop(plan, state, t0=t0, pending=pending, callback=callback)
    history = {}
    for k, v in out.history.items():
        a = np.asarray(v)
        history[k] = a.T if a.ndim == 2 else a  # (epochs, runs) -> (runs, epochs)
    final = {k: (v[:, -1] if v.ndim == 2 else v[-1]) for k, v in history.items()}
    final.update({k: np.asarray(v) for k, v in out.final.items() if k not in final})
    return SeedsResult(
        out.params, history, out.state, runs, out.wall_time_s, final, prep.record, clock()
    )


def init_states(
    model, optimizer: optax.GradientTransformation, seeds: Sequence[int], dtype=jnp.float32
):
    """The stacked :class:`TrainState` of one run per seed, each exactly
    ``init_state(model, optimizer, jax.random.key(seed))``."""
    seeds = check_seeds(seeds)
    zeros = jnp.zeros((len(seeds),), dtype)
    return _init_runs(
        model, jax.vmap(lambda p, _: optimizer.init(p)), [seed_key(s) for s in seeds], zeros, dtype
    )


@functools.lru_cache(maxsize=32)
def make_vmapped_epoch(
    model,
    loss,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    grad="autodiff",
    l2=0.0,
    l1=0.0,
    data_seed: int | None = None,
):
    """One compiled epoch of many runs at once: ``epoch(states, x, y) -> (states, metrics)``.

    ``jax.vmap`` of the epoch of :func:`funcnn.train.step.make_epoch_fn` over the leading
    axis of the stacked states (:func:`init_states`); the data are shared, and with
    ``data_seed`` so is each epoch's order (drawn once). ``metrics`` are
    ``(runs, n_batches)``. The states are donated.
    """
    fn = make_epoch_fn(
        model, loss, optimizer, batch_size=batch_size, grad=grad, l2=l2, l1=l1, data_seed=data_seed
    )
    vm = _vmap_epoch(lambda st, _, xb, yb: fn.run(st, xb, yb), batch_size, data_seed)

    def epoch(states, x, y):
        return vm(states, jnp.zeros(states.step.shape), x, y)

    return jax.jit(epoch, donate_argnums=0)


def stack_runs(results: Sequence) -> Any:
    """Stack the params of separate ``fit`` results along a leading runs axis (for
    comparing with :func:`fit_seeds`)."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *[r.params for r in results])


__all__ = [
    "GRID_NAMES",
    "SeedsResult",
    "fit_seeds",
    "init_states",
    "make_vmapped_epoch",
    "stack_runs",
]
