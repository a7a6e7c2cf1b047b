"""Optimizers and learning-rate schedules, by name, built from optax's blocks.

Every named optimizer is the same short chain (the order optax itself uses for AdamW)::

    clip_by_global_norm(clip_norm)        # optional, on the raw gradient g
    -> direction d(g)                     # identity (SGD), momentum, Adam, Adagrad, RMSProp
    -> add_decayed_weights(lambda, mask)  # d + lambda * w, on weights "w" only (not biases)
    -> scale_by_learning_rate(eta_k)      # -eta_k * (d + lambda * w)

so one update is the digest's decoupled weight decay (section 3, "Norms & Weight Decay")::

    w <- (1 - eta_k lambda) w - eta_k d(g),      b <- b - eta_k d(g)

For plain SGD, ``d(g) = g`` and this is exactly the digest's minibatch formula; for Adam it
is AdamW. An L2 *penalty* (``l2=`` of the training step) instead adds ``lambda w`` to ``g``
before the direction, which differs from decoupled decay for every optimizer but SGD.

The same names also build funcnn's own optimizers, written from the papers' update rules
(:mod:`funcnn.optimizers`, ``impl="funcnn"``), with the papers' conventions or optax's
(``conventions=``); the chain is then ``clip -> funcnn's rule with decoupled decay``, the decay
still ``eta_k lambda w`` so that ``weight_decay`` means the same with either implementation.
Under optax's conventions the two implementations give the same updates to float32 rounding.

Per-layer learning rates (``layer_lr``, one multiplier ``c_j`` per entry of the model's params
list) append :func:`funcnn.layerwise.scale_by_layer`: the lecture's ``alpha_j^(k) = c_j eta_k``
of (u.2). ``by_block=True`` wraps the optimizer in :func:`funcnn.layerwise.by_block` (one
state per layer), which the layer-wise update of the training step needs.

Schedules map the step count ``k = 0, 1, 2, ...`` (number of updates already made) to the
learning rate ``eta_k``; the lecture's decaying step sizes ``1/k`` and ``1/sqrt(k)`` (counting
from ``k = 1``) are ``"inverse"`` and ``"inverse_sqrt"`` (counting from ``k = 0``).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from funcnn import checks, layerwise
from funcnn import optimizers as funcnn_optimizers
from funcnn.losses import weights_only

Schedule = Callable[[jax.Array], jax.Array]

SCHEDULES: dict[str, str] = {
    "constant": "eta_k = lr",
    "inverse": "eta_k = lr / (1 + k / transition_steps)   (the lecture's 1/k; transition_steps=1)",
    "inverse_sqrt": "eta_k = lr / sqrt(1 + k / transition_steps)   (the lecture's 1/sqrt(k))",
    "exponential": "eta_k = lr * decay_rate ** (k / transition_steps)   (optax.exponential_decay)",
    "cosine": "eta_k = lr * (1 + cos(pi k / total_steps)) / 2   (optax.cosine_decay_schedule)",
    "warmup_cosine": "linear 0 -> lr over warmup_steps, then cosine to 0 at total_steps "
    "(optax.warmup_cosine_decay_schedule)",
}

OPTIMIZERS: dict[str, str] = {
    "sgd": "d = g",
    "momentum": "d = v, v <- momentum v + g   (heavy ball, optax.trace)",
    "nesterov": "d = momentum v + g, v <- momentum v + g   (optax.trace(nesterov=True))",
    "adam": "d = m_hat / (sqrt(v_hat) + eps)   (optax.scale_by_adam)",
    "adamw": "adam with decoupled weight decay (same chain; pass weight_decay > 0)",
    "adagrad": "d = g / sqrt(sum of g^2 + 0.1)   (optax.scale_by_rss)",
    "rmsprop": "d = g / sqrt(EMA of g^2 + eps)   (optax.scale_by_rms)",
}

IMPLS: dict[str, str] = {
    "optax": "optax's blocks: the chain of the module docstring",
    "funcnn": "funcnn.optimizers, written from the papers' update rules",
}
"""Implementations of the named optimizers (``impl=``, RunConfig's ``optimizer_impl``)."""

CONVENTIONS: dict[str, str] = {
    "paper": "the papers' (funcnn.optimizers' defaults); needs impl='funcnn'",
    "optax": "optax's (eps placement, initial accumulators, momentum's form)",
}
"""Conventions of funcnn's optimizers (``conventions=``; see ``docs/optimizers.md``)."""


def resolve_conventions(impl: str, conventions: str | None) -> str:
    """``conventions`` checked against ``impl``; None is optax's for "optax", the papers'
    for "funcnn"."""
    impl = checks.check_choice(impl, IMPLS, "optimizer_impl")
    if conventions is None:
        return "optax" if impl == "optax" else "paper"
    checks.check_choice(conventions, CONVENTIONS, "conventions")
    if impl == "optax" and conventions != "optax":
        raise ValueError(
            f"conventions={conventions!r} needs optimizer_impl='funcnn': optax's optimizers "
            "follow optax's conventions only."
        )
    return conventions


# Options each named direction accepts (passed through to the optax block).
_DIRECTION_OPTIONS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": (),
    "nesterov": (),
    "adam": ("b1", "b2", "eps", "eps_root"),
    "adamw": ("b1", "b2", "eps", "eps_root"),
    "adagrad": ("initial_accumulator_value", "eps"),
    "rmsprop": ("decay", "eps", "initial_scale"),
}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_lr(lr, name: str = "lr"):
    """A learning rate: a positive finite number, a (traced) array, or a schedule."""
    if callable(lr):
        return
    if isinstance(lr, bool) or not (_is_number(lr) or isinstance(lr, jax.Array)):
        raise TypeError(
            f"{name} must be a positive number or a schedule step -> lr; got {type(lr).__name__}."
        )
    if _is_number(lr) and not (lr > 0 and lr < float("inf")):
        raise ValueError(f"{name} must be a positive, finite learning rate; got {lr!r}.")


def _inverse_power(lr, transition_steps: int, power: float) -> Schedule:
    def schedule(count):
        k = jnp.asarray(count, jnp.float32) / transition_steps
        return lr / (1.0 + k) ** power

    return schedule


def make_schedule(
    name: str,
    lr,
    *,
    total_steps: int | None = None,
    warmup_steps: int = 0,
    decay_rate: float = 0.5,
    transition_steps: int | None = None,
) -> Schedule:
    """A learning-rate schedule ``k -> eta_k`` by name (see :data:`SCHEDULES`).

    Args:
        name: one of ``SCHEDULES``: "constant", "inverse", "inverse_sqrt", "exponential",
            "cosine", "warmup_cosine".
        lr: the base (peak) learning rate ``eta``, a positive number (or a traced scalar,
            as in :func:`funcnn.train.fit_seeds` grids).
        total_steps: number of updates of the whole run; required by "cosine" and
            "warmup_cosine", and by "exponential" when ``transition_steps`` is not given.
        warmup_steps: linear warm-up ``eta_k = lr * k / warmup_steps`` for
            ``k < warmup_steps`` prepended to any schedule (``optax.join_schedules``). For
            "warmup_cosine" 0 means 5% of ``total_steps``.
        decay_rate: factor per ``transition_steps`` of "exponential".
        transition_steps: time scale, in updates, of "inverse", "inverse_sqrt" (default 1:
            ``lr / (1 + k)`` and ``lr / sqrt(1 + k)``) and "exponential" (default
            ``total_steps // 4``: the rate halves four times over a run at ``decay_rate=0.5``).

    Returns:
        An optax schedule (callable ``step -> learning rate``).

    Examples:
        >>> round(float(make_schedule("inverse", 0.1)(9)), 6)        # 0.1 / (1 + 9)
        0.01
        >>> round(float(make_schedule("cosine", 0.1, total_steps=100)(50)), 6)
        0.05
    """
    checks.check_choice(name, SCHEDULES, "schedule")
    check_lr(lr)
    if callable(lr):
        raise TypeError("make_schedule: lr must be a number, not a schedule.")
    if total_steps is not None:
        total_steps = checks.check_positive_int(total_steps, "total_steps")
    checks.check_nonnegative_int(warmup_steps, "warmup_steps")
    if transition_steps is not None:
        transition_steps = checks.check_positive_int(transition_steps, "transition_steps")
    if not (_is_number(decay_rate) and 0 < decay_rate):
        raise ValueError(f"decay_rate must be a positive number; got {decay_rate!r}.")

    def need_total(what: str) -> int:
        if total_steps is None:
            raise ValueError(
                f'schedule "{name}" needs total_steps= (the number of updates {what}).'
            )
        return total_steps

    if name == "warmup_cosine":
        total = need_total("of the run")
        warm = warmup_steps or max(1, total // 20)
        if warm >= total:
            raise ValueError(
                f"warmup_steps ({warm}) must be smaller than total_steps ({total}) for warmup_cosine."
            )
        return optax.warmup_cosine_decay_schedule(0.0, lr, warm, total, end_value=0.0)

    if name == "constant":
        base = optax.constant_schedule(lr)
    elif name in ("inverse", "inverse_sqrt"):
        base = _inverse_power(lr, transition_steps or 1, 1.0 if name == "inverse" else 0.5)
    elif name == "exponential":
        ts = transition_steps or max(1, need_total("or transition_steps=") // 4)
        base = optax.exponential_decay(lr, ts, decay_rate)
    else:  # cosine
        total = need_total("of the run")
        if warmup_steps >= total:
            raise ValueError(
                f"warmup_steps ({warmup_steps}) must be smaller than total_steps ({total})."
            )
        base = optax.cosine_decay_schedule(lr, total - warmup_steps)
    if warmup_steps == 0:
        return base
    warm = optax.linear_schedule(0.0, lr, warmup_steps)
    return optax.join_schedules([warm, base], [warmup_steps])


def weight_mask(params):
    """Boolean pytree: True on weight leaves (last key "w"), False on biases."""
    return jax.tree_util.tree_map_with_path(lambda p, leaf: weights_only(p, leaf), params)


def _direction(name: str, momentum, options: dict) -> optax.GradientTransformation:
    allowed = _DIRECTION_OPTIONS[name]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        valid = ", ".join(allowed) if allowed else "none"
        raise TypeError(
            f'optimizer "{name}" got unknown options {unknown}; valid options: {valid}.'
        )
    if name == "sgd":
        return optax.identity()
    if name in ("momentum", "nesterov"):
        checks.check_nonnegative(momentum, "momentum", allow_none=True)
        return optax.trace(decay=momentum, nesterov=name == "nesterov")
    if name in ("adam", "adamw"):
        return optax.scale_by_adam(**options)
    if name == "adagrad":
        return optax.scale_by_rss(**options)
    return optax.scale_by_rms(**options)  # rmsprop


def _check_given_transform(impl, learning_rate, weight_decay, options) -> None:
    """A given ``optax.GradientTransformation`` is the whole rule: nothing else may be set."""
    if impl != "optax":
        raise ValueError(
            f"optimizer_impl={impl!r} builds a named optimizer; an "
            "optax.GradientTransformation is its own implementation: pass a name."
        )
    if learning_rate is not None:
        raise ValueError(
            "learning_rate must be None when passing an optax.GradientTransformation "
            "(it carries its own learning rate); pass a name to use learning_rate."
        )
    if not checks.is_static_zero(weight_decay) or options:
        raise ValueError(
            "weight_decay and options apply to named optimizers only; build them into "
            "the optax.GradientTransformation you pass."
        )


def make_optimizer(
    name_or_transform,
    learning_rate=None,
    *,
    weight_decay=0.0,
    clip_norm=None,
    momentum=0.9,
    impl: str = "optax",
    conventions: str | None = None,
    **options,
) -> optax.GradientTransformation:
    """An optax optimizer by name, with decoupled weight decay and gradient clipping.

    The chain is ``clip -> direction -> decoupled decay -> -eta_k`` (module docstring), so
    one step is ``w <- (1 - eta_k lambda) w - eta_k d(g)`` on weights and
    ``b <- b - eta_k d(g)`` on biases.

    Args:
        name_or_transform: a name from :data:`OPTIMIZERS` ("sgd", "momentum", "nesterov",
            "adam", "adamw", "adagrad", "rmsprop"), or any ``optax.GradientTransformation``,
            which is used as the complete update rule (it carries its own learning rate;
            only ``clip_norm`` is added in front of it).
        learning_rate: ``eta``: a positive number or a schedule ``k -> eta_k``
            (:func:`make_schedule`). Required for names; must be None for a transform.
        weight_decay: ``lambda`` of decoupled weight decay, on weights only; ``>= 0``.
            "adamw" is "adam" with this set (at 0 they are identical).
        clip_norm: clip the gradient to this global L2 norm before anything else (None: off).
        momentum: the coefficient of "momentum" and "nesterov".
        impl: "optax" (optax's blocks) or "funcnn" (:mod:`funcnn.optimizers`: the rule of
            the papers, ``clip -> rule -> -eta_k lambda w``, the decay scaled by the
            learning rate as in optax so that ``weight_decay`` means the same).
        conventions: for ``impl="funcnn"``, "paper" (default) or "optax"
            (:data:`funcnn.optimizers.CONVENTIONS`); for "optax" only None or "optax".
        **options: passed to the direction's optax block, e.g. ``b1``, ``b2``, ``eps`` for
            Adam, ``decay`` for RMSProp (with ``impl="funcnn"``: to
            :func:`funcnn.optimizers.make`).

    Returns:
        An ``optax.GradientTransformation``.
    """
    if clip_norm is not None:
        checks.check_nonnegative(clip_norm, "clip_norm", allow_none=True)
        if checks.is_static_zero(clip_norm):
            raise ValueError("clip_norm must be > 0 (or None to disable clipping); got 0.")
    checks.check_nonnegative(weight_decay, "weight_decay")
    front = [optax.clip_by_global_norm(clip_norm)] if clip_norm is not None else []
    conventions = resolve_conventions(impl, conventions)

    if isinstance(name_or_transform, optax.GradientTransformation):
        _check_given_transform(impl, learning_rate, weight_decay, options)
        return optax.chain(*front, name_or_transform) if front else name_or_transform
    if not isinstance(name_or_transform, str):
        raise TypeError(
            "optimizer must be a name or an optax.GradientTransformation; "
            f"got {type(name_or_transform).__name__}."
        )
    name = checks.check_choice(name_or_transform, OPTIMIZERS, "optimizer")
    if learning_rate is None:
        raise ValueError(f'optimizer "{name}" needs a learning_rate (a number or a schedule).')
    check_lr(learning_rate, "learning_rate")
    if impl == "funcnn":
        rule = funcnn_optimizers.make(
            name, learning_rate, weight_decay=weight_decay, momentum=momentum,
            conventions=conventions, scale_decay_by_lr=True, **options,
        )  # fmt: skip
        return optax.chain(*front, rule) if front else rule
    parts = [*front, _direction(name, momentum, options)]
    if not checks.is_static_zero(weight_decay):
        parts.append(optax.add_decayed_weights(weight_decay, mask=weight_mask))
    parts.append(optax.scale_by_learning_rate(learning_rate))
    return optax.chain(*parts)


# Schedules whose shape depends on the length of the run.
SCHEDULES_WITH_TOTAL = ("cosine", "warmup_cosine", "exponential")


def build_optimizer(
    optimizer="adam",
    *,
    lr=1e-3,
    schedule: str = "constant",
    total_steps: int | None = None,
    warmup_steps: int = 0,
    weight_decay=0.0,
    clip_norm=None,
    momentum=0.9,
    optimizer_impl: str = "optax",
    conventions: str | None = None,
    layer_lr: tuple[float, ...] | None = None,
    by_block: bool = False,
) -> tuple[optax.GradientTransformation, Schedule | None]:
    """``(optimizer, schedule)`` of a run: :func:`make_schedule` then :func:`make_optimizer`.

    The one place where a run's settings become its optax chain, for ``fit`` and for every
    run of ``fit_seeds``. ``lr``, ``weight_decay`` and ``momentum`` may be traced scalars
    (``fit_seeds`` varies one of them under ``jax.vmap``). ``total_steps`` is used only by
    the schedules of :data:`SCHEDULES_WITH_TOTAL` (pass None for the others, so runs that
    differ only in length share one optimizer). An ``optax.GradientTransformation`` is used
    as is (behind ``clip_norm``), and the schedule is then None.

    ``optimizer_impl`` and ``conventions`` choose the implementation (:func:`make_optimizer`).
    ``layer_lr`` (one multiplier per entry of the model's params list) scales each layer's
    update, :func:`funcnn.layerwise.scale_by_layer`; ``by_block=True`` runs the optimizer on
    each layer apart (:func:`funcnn.layerwise.by_block`, with the multipliers), as the
    layer-wise step needs. Both check the params list when the optimizer state is made.
    """
    if isinstance(optimizer, optax.GradientTransformation):
        opt = make_optimizer(
            optimizer, clip_norm=clip_norm, impl=optimizer_impl, conventions=conventions
        )
        return per_layer(opt, layer_lr, by_block), None
    sched = make_schedule(schedule, lr, total_steps=total_steps, warmup_steps=warmup_steps)
    opt = make_optimizer(
        optimizer, sched, weight_decay=weight_decay, clip_norm=clip_norm, momentum=momentum,
        impl=optimizer_impl, conventions=conventions,
    )  # fmt: skip
    return per_layer(opt, layer_lr, by_block), sched


def per_layer(opt: optax.GradientTransformation, layer_lr=None, by_block: bool = False):
    """``opt`` with per-layer multipliers ``layer_lr`` (None: none) and, with ``by_block``,
    one state per layer (:func:`funcnn.layerwise.by_block`)."""
    if by_block:
        return layerwise.by_block(opt, layer_lr, name="layer_lr")
    if layer_lr is None:
        return opt
    return optax.chain(opt, layerwise.scale_by_layer(layer_lr, name="layer_lr"))


def learning_rate_at(schedule_or_lr, step) -> float:
    """The learning rate in force at update ``step`` (a number or a schedule)."""
    if callable(schedule_or_lr):
        return float(schedule_or_lr(step))
    return float(schedule_or_lr)


def epoch_end_lrs(schedule, epochs: int, n_batches: int):
    """The learning rate after each epoch's last update, ``(epochs,)``, in one compiled call
    (None without a schedule)."""
    if schedule is None:
        return None
    last_steps = np.arange(1, epochs + 1) * n_batches - 1
    return np.broadcast_to(np.asarray(jax.jit(schedule)(last_steps)), last_steps.shape)
