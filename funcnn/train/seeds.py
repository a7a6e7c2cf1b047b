"""Many training runs at once: N seeds (times a grid of one hyperparameter) in one program.

Every run's :class:`~funcnn.train.state.TrainState` is stacked along a leading "runs" axis
and the compiled epoch of :mod:`funcnn.train.step` is ``jax.vmap``-ped over it (and over the
hyperparameter's value, which enters the optimizer or the loss as a traced scalar). The
training set is shared. Run ``r`` with seed ``s`` and value ``v`` computes what
``fit(model, data, seed=s, <name>=v)`` computes: the same keys, the same permutations, the
same dropout masks, the same updates; only the floating-point order inside batched matrix
products may differ.
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

from funcnn import checks
from funcnn.train.fit import (
    _check_epoch_args,
    _Loop,
    _model_config,
    _resolve_dataset,
    _splits,
    infer_loss,
    precompile,
    schedule_total_steps,
)
from funcnn.train.optim import OPTIMIZERS, make_optimizer, make_schedule
from funcnn.train.state import TrainState, init_params, seed_key
from funcnn.train.step import (
    _check_data_seed,
    _check_grad,
    _check_loss,
    _check_penalty,
    batches_for,
    make_epoch_fn,
    make_eval_fn,
)

# Hyperparameters a grid may vary (each enters the program as a traced scalar).
GRID_NAMES = ("lr", "weight_decay", "l2", "l1", "momentum")

# fit() options that fit_seeds does not take.
_UNSUPPORTED = ("mesh", "early_stopping_patience")


class SeedsResult(NamedTuple):
    """What :func:`fit_seeds` returns (leading axis of every array = runs).

    Attributes:
        params: stacked params, e.g. ``[{"w": (runs, n_in, n_out), "b": (runs, n_out)}]``.
        history: ``name -> (runs, epochs)`` arrays (``epoch`` and ``time_s``: ``(epochs,)``).
        state: the stacked final :class:`TrainState`.
        runs: one dict per run: ``{"seed": s}`` plus ``{name: value}`` for a grid.
        wall_time_s: seconds for the whole call, compilation included.
        final: ``name -> (runs,)`` metrics of the last epoch.
        config: the resolved configuration.
    """

    params: Any
    history: dict[str, np.ndarray]
    state: TrainState
    runs: list[dict]
    wall_time_s: float
    final: dict[str, np.ndarray]
    config: dict[str, Any]


def _check_seeds(seeds) -> list[int]:
    try:
        seeds = list(seeds)
    except TypeError:
        raise TypeError(f"seeds must be a sequence of integers; got {seeds!r}.") from None
    if not seeds:
        raise ValueError("seeds must not be empty.")
    for s in seeds:
        seed_key(s)  # validates
    return seeds


def _check_grid(grid) -> tuple[str, list[float]] | None:
    if grid is None:
        return None
    if not (isinstance(grid, (tuple, list)) and len(grid) == 2 and isinstance(grid[0], str)):
        raise TypeError(
            f'grid must be a pair (name, values), e.g. ("lr", [1e-3, 1e-2]); got {grid!r}.'
        )
    name, values = grid
    checks.check_choice(name, GRID_NAMES, "grid hyperparameter")
    values = [float(v) for v in values]
    if not values:
        raise ValueError(f"grid values for {name!r} must not be empty.")
    for v in values:
        if not np.isfinite(v) or v < 0 or (name == "lr" and v == 0):
            raise ValueError(
                f"grid value {name}={v!r} must be finite and {'> 0' if name == 'lr' else '>= 0'}."
            )
    return name, values


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
def _programs(model, loss, spec: tuple, grid_name, batch_size, grad, data_seed):
    """(optimizer init, compiled epoch, compiled eval) over stacked runs, cached by
    configuration."""
    s = dict(spec)

    def build(hyper):
        v = dict(s)
        if grid_name is not None:
            v[grid_name] = hyper
        if isinstance(v["optimizer"], optax.GradientTransformation):
            opt = make_optimizer(v["optimizer"], clip_norm=v["clip_norm"])
        else:
            sched = make_schedule(
                v["schedule"], v["lr"], total_steps=v["total_steps"], warmup_steps=v["warmup_steps"]
            )
            opt = make_optimizer(
                v["optimizer"],
                sched,
                weight_decay=v["weight_decay"],
                clip_norm=v["clip_norm"],
                momentum=v["momentum"],
            )
        return opt, v["l2"], v["l1"]

    def opt_init(params, hyper):
        opt, _, _ = build(hyper)
        return opt.init(params)

    def run_one(state, hyper, xb, yb):
        opt, l2, l1 = build(hyper)
        fn = make_epoch_fn(model, loss, opt, batch_size=batch_size, grad=grad, l2=l2, l1=l1)
        return fn.run(state, xb, yb)

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


def fit_seeds(
    model,
    dataset,
    seeds: Sequence[int],
    *,
    grid: tuple[str, Sequence[float]] | None = None,
    loss=None,
    optimizer="adam",
    lr=1e-3,
    schedule="constant",
    epochs: int = 10,
    batch_size: int = 128,
    data_seed: int | None = None,
    grad: str = "autodiff",
    weight_decay=0.0,
    l2=0.0,
    l1=0.0,
    clip_norm=None,
    momentum=0.9,
    warmup_steps: int = 0,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    callback=None,
    eval_train: bool = True,
    progress: bool = True,
    dtype=jnp.float32,
    **unsupported,
) -> SeedsResult:
    """Train one run per seed (per grid value and seed) in one compiled program (``jax.vmap``).

    Args:
        model, dataset, loss, optimizer, lr, schedule, epochs, batch_size, data_seed, grad,
            weight_decay, l2, l1, clip_norm, momentum, warmup_steps, checkpoint_dir,
            checkpoint_every, resume, callback, eval_train, progress, dtype: as in
            :func:`funcnn.train.fit` (a checkpoint holds the stacked state of all runs).
        seeds: one run per seed (``jax.random.key(seed)``, exactly as ``fit(seed=seed)``).
            With ``data_seed`` all runs see the same batches, drawn once per epoch for all
            of them (much cheaper for small models, where shuffling is most of an epoch).
        grid: optional ``(name, values)`` with name in :data:`GRID_NAMES` ("lr",
            "weight_decay", "l2", "l1", "momentum"): the runs are the product
            ``values x seeds``, value-major (run ``i * len(seeds) + j`` has value ``i`` and
            seed ``j``).

    Returns:
        :class:`SeedsResult` with stacked params and ``(runs, epochs)`` histories.
    """
    for k in unsupported:
        if k in _UNSUPPORTED:
            raise ValueError(f"fit_seeds does not support {k}=; use fit for it.")
        raise TypeError(f"fit_seeds got an unexpected keyword argument {k!r}.")
    t0 = time.perf_counter()
    seeds = _check_seeds(seeds)
    grid = _check_grid(grid)
    _check_data_seed(data_seed)
    data = _resolve_dataset(dataset)
    if loss is None:
        loss = infer_loss(model, getattr(data, "n_classes", None))
    _check_loss(loss, grad)
    _check_grad(grad)
    _check_penalty(l2, "l2")
    _check_penalty(l1, "l1")
    if not isinstance(optimizer, optax.GradientTransformation):
        checks.check_choice(optimizer, OPTIMIZERS, "optimizer")
    elif grid is not None and grid[0] in ("lr", "weight_decay", "momentum"):
        raise ValueError(
            f"a grid over {grid[0]!r} needs a named optimizer; an optax.GradientTransformation "
            "fixes its own hyperparameters."
        )
    splits = _splits(data, model, loss, dtype)
    n_train = int(splits["train"][0].shape[0])
    epochs, batch_size = _check_epoch_args(epochs, batch_size, n_train, checkpoint_every, None)
    n_batches = n_train // batch_size
    total_steps = schedule_total_steps(schedule, epochs * n_batches)

    grid_name, values = grid if grid is not None else (None, [None])
    runs = []
    for v, s in itertools.product(values, seeds):
        runs.append({"seed": s} if grid_name is None else {grid_name: v, "seed": s})
    keys = [seed_key(r["seed"]) for r in runs]
    hypers = (
        jnp.asarray([r[grid_name] for r in runs], dtype)
        if grid_name is not None
        else jnp.zeros((len(runs),), dtype)
    )
    spec = (
        ("optimizer", optimizer),
        ("lr", lr),
        ("schedule", schedule),
        ("total_steps", total_steps),
        ("warmup_steps", warmup_steps),
        ("weight_decay", weight_decay),
        ("clip_norm", clip_norm),
        ("momentum", momentum),
        ("l2", l2),
        ("l1", l1),
    )
    init, epoch, evaluate = _programs(model, loss, spec, grid_name, batch_size, grad, data_seed)
    # Compile the epoch and the evaluations while the params are drawn.
    shapes = jax.eval_shape(
        lambda ks: _init_runs(model, init, list(ks), hypers, dtype), jnp.stack(keys)
    )
    jobs = [(epoch, (shapes, hypers, *splits["train"]))]
    jobs += [(evaluate, (shapes.params, *xy)) for xy in splits.values()]
    pending = precompile(jobs)
    state = _init_runs(model, init, keys, hypers, dtype)
    sched = None
    if grid_name != "lr" and not isinstance(optimizer, optax.GradientTransformation):
        sched = make_schedule(schedule, lr, total_steps=total_steps, warmup_steps=warmup_steps)

    config = {
        "model": _model_config(model),
        "dataset": getattr(data, "name", None),
        "n_train": n_train,
        "loss": loss if isinstance(loss, str) else repr(loss),
        "optimizer": optimizer if isinstance(optimizer, str) else repr(optimizer),
        "lr": lr,
        "schedule": schedule,
        "warmup_steps": warmup_steps,
        "epochs": epochs,
        "batch_size": batch_size,
        "seeds": seeds,
        "data_seed": data_seed,
        "grid": None if grid is None else list(grid),
        "grad": grad,
        "weight_decay": weight_decay,
        "l2": l2,
        "l1": l1,
        "clip_norm": clip_norm,
        "momentum": momentum,
        "dtype": jnp.dtype(dtype).name,
        "checkpoint_every": checkpoint_every,
    }
    loop = _Loop(
        epoch_fn=lambda st, x, y: epoch(st, hypers, x, y),
        eval_fn=evaluate,
        splits=splits,
        loss=loss,
        epochs=epochs,
        n_batches=n_batches,
        schedule=sched,
        config=config,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=resume,
        patience=None,
        callback=callback,
        progress=progress,
        runs=runs,
        desc=f"{len(runs)} runs of {getattr(model, 'kind', 'model')}",
        eval_train=eval_train,
    )
    state, params, history, wall, _, _, extra = loop.run(state, t0=t0, pending=pending)
    stacked = {}
    for k, v in history.items():
        a = np.asarray(v)
        stacked[k] = a.T if a.ndim == 2 else a  # (epochs, runs) -> (runs, epochs)
    final = {k: (v[:, -1] if v.ndim == 2 else v[-1]) for k, v in stacked.items()}
    final.update({k: np.asarray(v) for k, v in extra.items()})
    return SeedsResult(params, stacked, state, runs, wall, final, config)


def init_states(
    model, optimizer: optax.GradientTransformation, seeds: Sequence[int], dtype=jnp.float32
):
    """The stacked :class:`TrainState` of one run per seed, each exactly
    ``init_state(model, optimizer, jax.random.key(seed))``."""
    seeds = _check_seeds(seeds)
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
