"""``fit``: train a model on a dataset, one compiled call per epoch.

``fit`` turns its keyword arguments into a :class:`~funcnn.train.config.RunConfig`
(validated once), prepares the data (:mod:`funcnn.train.inputs`), builds the optimizer and
the compiled epoch, compiles them in the background while the params are drawn (and times
that compilation), and hands over to the epoch loop (:func:`funcnn.train.loop.run_loop`).

Under several processes (``jax.distributed``, :mod:`funcnn.train.distributed`) ``fit``
trains data-parallel over every device of every process, each process feeding its own rows
of every global batch.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from funcnn.train import distributed, feed
from funcnn.train.config import RunConfig, run_config
from funcnn.train.evaluate import make_eval, precompile
from funcnn.train.inputs import prepare, resolve_dataset
from funcnn.train.loop import Plan, compile_clock, run_loop
from funcnn.train.optim import epoch_end_lrs
from funcnn.train.sharding import check_batch_divisible, make_mesh, replicate
from funcnn.train.state import TrainState, init_state, seed_key
from funcnn.train.step import make_epoch


class FitResult(NamedTuple):
    """What :func:`fit` returns.

    Attributes:
        params: the trained params (with early stopping: those of the best epoch).
        history: per-epoch lists: ``epoch``, ``loss`` (mean training objective over the
            epoch's steps, dropout on), ``grad_norm``, ``lr`` (after the epoch's last
            update), ``{train,val,test}_{loss,accuracy}`` (evaluation mode, data loss
            without penalties; accuracy for classification), ``time_s`` (since the start).
        state: the final :class:`TrainState` (last epoch, not the best one).
        wall_time_s: seconds from the call to the return, compilation included.
        final: the last epoch's metrics as floats (``history[k][-1]`` for each k), and with
            ``eval_train=False`` the training set's ``train_loss``/``train_accuracy``,
            evaluated once at the end.
        best_epoch: the epoch of the best validation metric (early stopping), else None.
        stopped_early: whether early stopping ended the run.
        config: the resolved configuration as JSON (``RunConfig.to_dict()`` with the model's
            ``to_config()``, the dataset's name, ``n_train`` and ``devices``).
        compile_time_s: seconds the background compilation of the epoch and the
            evaluations took (from its start to its last program), or None where the
            programs compile on first use (with a mesh).
    """

    params: Any
    history: dict[str, list]
    state: TrainState
    wall_time_s: float
    final: dict[str, float]
    best_epoch: int | None
    stopped_early: bool
    config: dict[str, Any]
    compile_time_s: float | None = None


def fit(
    model,
    dataset,
    *,
    config: RunConfig | None = None,
    mesh=None,
    callback: Callable | None = None,
    **options,
) -> FitResult:
    """Train ``model`` on ``dataset`` with minibatch gradient steps, one compiled call per epoch.

    Args:
        model: a funcnn model: ``init(key, dtype)``, ``apply(params, x, *, key, train)``,
            ``input_shape``, ``output_shape``, ``stochastic``, ``kind``, ``to_config()``.
        dataset: a ``funcnn.data.Dataset`` (``x_train (n, *input_shape)``, ``y_train``,
            ``x_test``, ``y_test``, ``n_classes``, optional ``x_val``/``y_val``) or a name
            for ``funcnn.data.load``.
        config: a :class:`RunConfig`; default ``RunConfig()``.
        mesh: a ``jax.sharding.Mesh`` (``funcnn.train.make_mesh()``) for data parallelism;
            under several processes the default is the mesh of every process's devices.
        callback: ``callback(epoch, state, history) -> bool``, called after each epoch (after
            its checkpoint); returning True stops training.
        **options: fields of :class:`RunConfig` (``loss``, ``optimizer``, ``lr``,
            ``schedule``, ``epochs``, ``batch_size``, ``seed``, ``grad``, ``weight_decay``,
            ``l2``, ``l1``, ``checkpoint_dir``, ``resume``, ``early_stopping_patience``,
            ``eval_train``, ``progress``, ``dtype``, ...), replacing those of ``config``.

    Returns:
        :class:`FitResult` ``(params, history, state, wall_time_s, final, best_epoch,
        stopped_early, config, compile_time_s)``.

    Raises:
        NonFiniteLossError: a step's loss was NaN or inf (names the epoch and step; the
            last checkpoint on disk is left intact).
    """
    t0 = time.perf_counter()
    config = run_config(config, options, "fit")
    if config.seeds is not None:
        raise ValueError("fit trains one run (seed=); for seeds= use fit_seeds.")
    if mesh is None and distributed.process_count() > 1:
        mesh = make_mesh()  # every device of every process
    data = resolve_dataset(dataset)
    prep = prepare(model, data, config, devices=1 if mesh is None else int(mesh.devices.size))
    config, splits = prep.config, prep.splits
    opt, sched = config.build_optimizer(prep.n_batches)
    eval_fn = make_eval(model, config.loss)
    key = seed_key(config.seed)
    pending = placement = clock = None
    if mesh is None:  # compile the epoch and the evaluations while the params are drawn
        epoch_fn = make_epoch(model, config.loss, opt, mesh=None, **config.epoch_kwargs())
        shapes = jax.eval_shape(lambda k: init_state(model, opt, k, config.dtype), key)
        t_compile = time.perf_counter()
        pending = precompile(epoch_fn, eval_fn, shapes, splits)
        clock = compile_clock(pending, t_compile)
    else:
        epoch_fn = _mesh_epoch(model, config, opt, mesh, prep.record, splits["train"])
        splits = {k: replicate(v, mesh) for k, v in splits.items()}
        placement = functools.partial(replicate, mesh=mesh)
    state = init_state(model, opt, key, config.dtype)
    lrs = epoch_end_lrs(sched, config.epochs, prep.n_batches)
    desc = f"{model.kind} on {getattr(data, 'name', 'data')}"
    plan = Plan(epoch_fn, eval_fn, splits, config, prep.record, prep.n_batches, lrs, None, desc)
    out = run_loop(plan, state, t0=t0, pending=pending, placement=placement, callback=callback)
    return FitResult(
        out.params,
        out.history,
        out.state,
        out.wall_time_s,
        out.final,
        out.best_epoch,
        out.stopped_early,
        prep.record,
        None if clock is None else clock(),
    )


def fit_sharded(model, dataset, *, devices=None, **fit_kwargs) -> FitResult:
    """:func:`fit` with every batch split over ``devices`` (default: all).

    Same arguments and result as ``fit``; ``batch_size`` must be divisible by the number of
    devices.
    """
    return fit(model, dataset, mesh=make_mesh(devices), **fit_kwargs)


def _mesh_epoch(model, config: RunConfig, opt, mesh, record: dict, train):
    """The compiled epoch over ``mesh``; over a mesh of several processes, each process feeds
    its own rows of every batch of the training set ``train`` (after every process has
    checked that all train the same ``record`` on the same data)."""
    check_batch_divisible(config.batch_size, mesh)
    if not distributed.spans_processes(mesh):
        return make_epoch(model, config.loss, opt, mesh=mesh, **config.epoch_kwargs())
    distributed.check_same_run(record, *train)
    return feed.fed_epoch(model, config.loss, opt, mesh, *train, **config.epoch_kwargs())
