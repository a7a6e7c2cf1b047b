"""The configuration of a training run: one frozen, validated :class:`RunConfig`.

``fit`` and ``fit_seeds`` take its fields as keyword arguments (or a ``config=``), so every
setting is checked once, here, with an error that names it; the configuration becomes JSON
once (:meth:`RunConfig.to_dict`), for the result, the checkpoints and ``metrics.json``; and
a resumed run is compared with the saved one field by field (:func:`resume_conflicts`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np
import optax

from funcnn import checks, layerwise
from funcnn.data import Augment
from funcnn.io import to_jsonable
from funcnn.train.optim import (
    OPTIMIZERS,
    SCHEDULES,
    SCHEDULES_WITH_TOTAL,
    build_optimizer,
    check_lr,
    resolve_conventions,
)
from funcnn.train.step import (
    check_data_seed,
    check_grad,
    check_label_smoothing,
    check_loss,
    check_update,
)

# Hyperparameters a fit_seeds grid may vary (each enters the program as a traced scalar).
GRID_NAMES = ("lr", "weight_decay", "l2", "l1", "momentum")

# Settings that may change between an interrupted run and its resumption.
RESUME_FREE = frozenset(
    {"progress", "checkpoint_dir", "checkpoint_every", "resume", "early_stopping_patience"}
    | {"eval_train"}  # a resumed run may evaluate the training set every epoch or at the end
)

# The optimizer's settings (the arguments of funcnn.train.optim.build_optimizer).
_OPTIMIZER_FIELDS = (
    "optimizer",
    "lr",
    "schedule",
    "warmup_steps",
    "weight_decay",
    "clip_norm",
    "momentum",
    "optimizer_impl",
    "conventions",
    "layer_lr",
)

# Fields added after runs were first saved: a saved run without them used these defaults.
_LATER_FIELDS = ("optimizer_impl", "conventions", "layer_lr", "update")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that decides how a model is trained (not the model and not the data).

    Attributes:
        loss: a name from ``funcnn.losses.LOSSES``, a callable ``loss(y_hat, y)`` (autodiff
            only) or None to infer it from the model and the data
            (:func:`funcnn.train.infer_loss`).
        optimizer: a name from ``OPTIMIZERS`` or an ``optax.GradientTransformation`` (which
            carries its own learning rate: ``lr``, ``schedule``, ``weight_decay`` and
            ``momentum`` are then not used).
        lr: base learning rate eta, shaped by ``schedule`` (a name from ``SCHEDULES``) over
            the ``epochs * (n_train // batch_size)`` updates, after ``warmup_steps``.
        epochs: passes over the training set.
        batch_size: minibatch size B (1: single-sample SGD; n_train: full-batch GD).
        seed: the run's seed (``fit``): ``jax.random.key(seed)`` drives init, shuffling and
            dropout.
        seeds: one run per seed (``fit_seeds``); None for ``fit``.
        grid: ``(name, values)`` with name in :data:`GRID_NAMES` (``fit_seeds`` only): the
            runs are ``values x seeds``, value-major.
        data_seed: if given, the order of the training set comes from it instead of from
            each run's seed.
        grad: "autodiff" (``jax.grad``) or "manual" (``funcnn.backprop``).
        weight_decay: decoupled weight decay lambda: ``w <- (1 - eta lambda) w - eta d``.
        l2, l1: penalties ``l2 * 1/2 ||w||^2 + l1 * ||w||_1`` added to the loss.
        clip_norm: clip gradients to this global norm (None: off).
        momentum: coefficient of the "momentum"/"nesterov" optimizers.
        dtype: float dtype of params and inputs, stored by name (float64 needs
            ``jax.enable_x64``).
        early_stopping_patience: stop after this many epochs without improvement of the
            validation accuracy (classification) or loss (regression); needs a validation
            split and one run; the result's params are those of the best epoch.
        checkpoint_dir: write orbax checkpoints here at the end and every
            ``checkpoint_every`` epochs.
        resume: continue from the last complete checkpoint in ``checkpoint_dir``; the saved
            configuration must match this one (but for the fields of ``RESUME_FREE``).
        eval_train: evaluate on the whole training set after each epoch (into the history);
            otherwise only once, at the end (into ``final``).
        progress: show a tqdm progress bar (stderr) with the loss and accuracies.
        augment: a :class:`funcnn.data.Augment` drawn on device for every training batch
            from the run's key and the step (None or an inactive one: off); given as a dict,
            its fields.
        label_smoothing: train softmax cross-entropy on ``(1 - eps) one_hot + eps / K``.
        optimizer_impl: "optax" (optax's blocks, the default) or "funcnn"
            (:mod:`funcnn.optimizers`, written from the papers' update rules); see
            :func:`funcnn.train.optim.make_optimizer`.
        conventions: the conventions of funcnn's optimizers, "paper" or "optax" (where they
            differ: ``docs/optimizers.md``); None resolves to "optax" for
            ``optimizer_impl="optax"`` (the only ones it has) and to "paper" for "funcnn".
        layer_lr: None, or one learning-rate multiplier ``c_j >= 0`` per entry of the
            model's params list (one per layer): layer ``j`` steps with
            ``alpha_j^(k) = c_j eta_k``, the per-layer step sizes of the lecture's (u.2)
            (:func:`funcnn.layerwise.scale_by_layer`; 0 freezes a layer). Its length is
            checked against the model when the optimizer state is made.
        update: "simultaneous" ((u.1): every layer updated at the point the gradient was
            taken) or "layerwise" ((u.2) as block coordinate descent: one layer after the
            other within every step, input layer first, the gradient recomputed after each;
            one optimizer state per layer). See :func:`funcnn.train.make_step_fn`.
    """

    loss: str | Callable | None = None
    optimizer: str | optax.GradientTransformation = "adam"
    lr: Any = 1e-3
    schedule: str = "constant"
    warmup_steps: int = 0
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    seeds: tuple[int, ...] | None = None
    grid: tuple[str, tuple[float, ...]] | None = None
    data_seed: int | None = None
    grad: str = "autodiff"
    weight_decay: Any = 0.0
    l2: Any = 0.0
    l1: Any = 0.0
    clip_norm: Any = None
    momentum: Any = 0.9
    dtype: Any = "float32"
    early_stopping_patience: int | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int | None = None
    resume: bool = False
    eval_train: bool = True
    progress: bool = True
    augment: Any = None
    label_smoothing: float = 0.0
    optimizer_impl: str = "optax"
    conventions: str | None = None
    layer_lr: tuple[float, ...] | None = None
    update: str = "simultaneous"

    def __post_init__(self):
        self._check_training()
        self._check_update_rule()
        self._check_runs()
        self._check_bookkeeping()

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)

    def _check_training(self) -> None:
        if self.loss is not None:
            check_loss(self.loss, self.grad)
        check_grad(self.grad)
        if not isinstance(self.optimizer, optax.GradientTransformation):
            if not isinstance(self.optimizer, str):
                raise TypeError(
                    "optimizer must be a name or an optax.GradientTransformation; "
                    f"got {type(self.optimizer).__name__}."
                )
            checks.check_choice(self.optimizer, OPTIMIZERS, "optimizer")
        if callable(self.lr):
            raise TypeError(
                "lr must be a number; give the schedule by name (schedule=) or pass an "
                "optax.GradientTransformation as optimizer=."
            )
        check_lr(self.lr)
        checks.check_choice(self.schedule, SCHEDULES, "schedule")
        checks.check_nonnegative_int(self.warmup_steps, "warmup_steps")
        self._check_augmentation()
        self._set("epochs", checks.check_positive_int(self.epochs, "epochs"))
        self._set("batch_size", checks.check_positive_int(self.batch_size, "batch_size"))
        for name in ("weight_decay", "l2", "l1", "momentum"):
            checks.check_nonnegative(getattr(self, name), name)
        if self.clip_norm is not None:
            checks.check_nonnegative(self.clip_norm, "clip_norm")
            if checks.is_static_zero(self.clip_norm):
                raise ValueError("clip_norm must be > 0 (or None to disable clipping); got 0.")
        try:
            dtype = jnp.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(
                f"dtype must be a floating dtype (float32, float64); got {self.dtype!r}."
            )
        self._set("dtype", dtype.name)

    def _check_update_rule(self) -> None:
        """``optimizer_impl``, ``conventions``, ``layer_lr`` and ``update``."""
        self._set("conventions", resolve_conventions(self.optimizer_impl, self.conventions))
        if self.optimizer_impl != "optax" and not isinstance(self.optimizer, str):
            raise ValueError(
                f"optimizer_impl={self.optimizer_impl!r} builds a named optimizer; an "
                "optax.GradientTransformation is its own implementation: pass a name."
            )
        if self.layer_lr is not None:
            self._set("layer_lr", layerwise.check_multipliers(self.layer_lr, "layer_lr"))
        check_update(self.update)

    def _check_augmentation(self) -> None:
        augment = self.augment
        if isinstance(augment, Mapping):
            augment = Augment(**augment)
        if augment is not None and not isinstance(augment, Augment):
            raise TypeError(
                f"augment must be a funcnn.data.Augment, its fields as a dict, or None; got "
                f"{type(augment).__name__}."
            )
        self._set("augment", augment if augment is not None and augment.active else None)
        self._set("label_smoothing", check_label_smoothing(self.label_smoothing, self.loss))

    def _check_runs(self) -> None:
        checks.check_nonnegative_int(self.seed, "seed")
        check_data_seed(self.data_seed)
        if self.seeds is not None:
            self._set("seeds", check_seeds(self.seeds))
        if self.grid is not None:
            if self.seeds is None:
                raise ValueError("grid= trains several runs: use fit_seeds (seeds=) for it.")
            self._set("grid", check_grid(self.grid, self.optimizer))
        if self.early_stopping_patience is not None:
            checks.check_positive_int(self.early_stopping_patience, "early_stopping_patience")
            if self.seeds is not None:
                raise ValueError(
                    "fit_seeds does not support early_stopping_patience=; use fit for it "
                    "(early stopping works with one seed)."
                )

    def _check_bookkeeping(self) -> None:
        if self.checkpoint_dir is not None:
            self._set("checkpoint_dir", os.fspath(self.checkpoint_dir))
        if self.checkpoint_every is not None:
            checks.check_positive_int(self.checkpoint_every, "checkpoint_every")
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir=.")
        for name in ("resume", "eval_train", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False; got {getattr(self, name)!r}.")

    # --- derived settings -----------------------------------------------------------------

    def replace(self, **changes) -> RunConfig:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def optimizer_kwargs(self, n_batches: int) -> dict[str, Any]:
        """The arguments of :func:`funcnn.train.optim.build_optimizer` for ``n_batches``
        updates per epoch (``total_steps`` only where the schedule uses it, so runs that
        differ only in their number of epochs share one optimizer and one compiled epoch)."""
        kw = {name: getattr(self, name) for name in _OPTIMIZER_FIELDS}
        needs_total = self.schedule in SCHEDULES_WITH_TOTAL
        kw["total_steps"] = self.epochs * n_batches if needs_total else None
        kw["by_block"] = self.update == "layerwise"  # one optimizer state per layer
        return kw

    def epoch_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`funcnn.train.make_epoch` (and ``make_epoch_fn``)."""
        names = ("batch_size", "grad", "l2", "l1", "data_seed", "augment", "label_smoothing")
        return {name: getattr(self, name) for name in (*names, "update")}

    def build_optimizer(self, n_batches: int):
        """``(optimizer, schedule)`` of this run (cached: equal settings share one optimizer,
        and so one compiled epoch)."""
        return _cached_optimizer(**self.optimizer_kwargs(n_batches))

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-able values: a callable loss or an optax transform by
        its ``repr``; ``seed`` for one run, ``seeds`` and ``grid`` for several."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.seeds is None:
            del out["seeds"], out["grid"]
        else:
            del out["seed"]
        for name in ("loss", "optimizer"):
            if not isinstance(out[name], str | None):
                out[name] = repr(out[name])
        if self.augment is not None:
            out["augment"] = self.augment.to_config()
        return to_jsonable(out)


_cached_optimizer = functools.lru_cache(maxsize=128)(build_optimizer)


def run_config(config: RunConfig | None, options: Mapping[str, Any], caller: str) -> RunConfig:
    """The :class:`RunConfig` of a call ``caller(..., config=config, **options)``: ``config``
    (default ``RunConfig()``) with ``options`` replaced; unknown names are a ``TypeError``."""
    valid = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise TypeError(
            f"{caller} got unexpected keyword arguments {unknown}; valid: "
            f"{', '.join(sorted(valid))}."
        )
    if config is None:
        return RunConfig(**options)
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a funcnn.train.RunConfig; got {type(config).__name__}.")
    return config.replace(**options) if options else config


def check_seeds(seeds) -> tuple[int, ...]:
    """A non-empty sequence of non-negative integer seeds, as a tuple."""
    try:
        seeds = tuple(seeds)
    except TypeError:
        raise TypeError(f"seeds must be a sequence of integers; got {seeds!r}.") from None
    if not seeds:
        raise ValueError("seeds must not be empty.")
    return tuple(checks.check_nonnegative_int(s, "seed") for s in seeds)


def check_grid(grid, optimizer="adam") -> tuple[str, tuple[float, ...]]:
    """``(name, values)`` with name in :data:`GRID_NAMES` and valid values, as tuples."""
    if not (isinstance(grid, tuple | list) and len(grid) == 2 and isinstance(grid[0], str)):
        raise TypeError(
            f'grid must be a pair (name, values), e.g. ("lr", [1e-3, 1e-2]); got {grid!r}.'
        )
    name, values = grid
    checks.check_choice(name, GRID_NAMES, "grid hyperparameter")
    values = tuple(float(v) for v in values)
    if not values:
        raise ValueError(f"grid values for {name!r} must not be empty.")
    for v in values:
        if not np.isfinite(v) or v < 0 or (name == "lr" and v == 0):
            raise ValueError(
                f"grid value {name}={v!r} must be finite and {'> 0' if name == 'lr' else '>= 0'}."
            )
    if isinstance(optimizer, optax.GradientTransformation) and name in _OPTIMIZER_FIELDS:
        raise ValueError(
            f"a grid over {name!r} needs a named optimizer; an optax.GradientTransformation "
            "fixes its own hyperparameters."
        )
    return name, values


def resume_conflicts(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """``["name: saved X, now Y", ...]`` for the settings (JSON, as :meth:`RunConfig.to_dict`
    plus the model and data) in which a run to resume differs from the saved one, but for
    those of :data:`RESUME_FREE`."""
    current = to_jsonable(dict(current))
    defaults = RunConfig().to_dict()
    saved = {**{k: defaults[k] for k in _LATER_FIELDS if k not in saved}, **saved}
    names = sorted(k for k in set(saved) | set(current) if k not in RESUME_FREE)
    return [
        f"{k}: saved {saved.get(k)!r}, now {current.get(k)!r}"
        for k in names
        if saved.get(k) != current.get(k)
    ]


def parse_layer_lr(text: str) -> tuple[float, ...] | None:
    """``"1,0.5,0.1"`` -> ``(1.0, 0.5, 0.1)`` (the ``--layer-lr`` flag); "none" -> None."""
    if text.strip().lower() in ("", "none"):
        return None
    try:
        values = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise ValueError(
            f"layer_lr must be comma-separated numbers, one per layer (e.g. 1,0.5,0.1); got "
            f"{text!r}."
        ) from None
    return layerwise.check_multipliers(values, "layer_lr")
