r"""The lectures' optimizers written from their update rules, as optax transformations.

Every optimizer is an ``optax.GradientTransformation``: a pair of pure functions
``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``, built by a
factory that closes over the hyperparameters; the state is a small NamedTuple. Use them
anywhere optax is used: ``optax.apply_updates``, ``optax.chain``, ``jax.jit``, and
``jax.vmap`` over a grid of one hyperparameter passed as a traced scalar::

    opt = funcnn.optimizers.adam(1e-3)                     # Kingma and Ba's defaults
    state = opt.init(params)
    updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)

    # eight learning rates at once: the factory is called inside the vmapped function
    jax.vmap(lambda lr: train(funcnn.optimizers.momentum(lr)))(jnp.geomspace(1e-3, 1, 8))

The update rules (``g`` the gradient, ``eta_k`` the learning rate at update ``k``)::

    sgd       w <- w - eta_k g                                          Robbins and Monro 1951
    momentum  v <- mu v - eta_k g;  w <- w + v                          Polyak 1964
    nesterov  the same, g taken at the look-ahead point w + mu v        Sutskever et al. 2013
    adagrad   s <- s + g^2;  w <- w - eta_k g / (eps + sqrt(s))        Duchi et al. 2011
    rmsprop   nu <- rho nu + (1 - rho) g^2;  w <- w - eta_k g / (sqrt(nu) + eps)
                                                                        Tieleman and Hinton 2012
    adam      bias-corrected moving averages of g and g^2               Kingma and Ba 2015
    adamw     adam, then w <- w - lambda w on the weights (decoupled)   Loshchilov and Hutter 2019

**Conventions.** Where the papers and optax differ (epsilon inside or outside the root, the
initial accumulator, where weight decay enters, the form of momentum), the factories take
the papers' choice by default and an option selects optax's. :data:`CONVENTIONS` lists both
presets and :func:`make` applies one by name; ``docs/optimizers.md`` tabulates every
difference with its measured size.
"""

from __future__ import annotations

import inspect

from funcnn import checks
from funcnn.optimizers.adaptive import (
    AdagradState,
    AdamState,
    RMSPropState,
    adagrad,
    adam,
    adamw,
    rmsprop,
)
from funcnn.optimizers.base import check_flag, weight_mask
from funcnn.optimizers.decay import (
    WeightDecayState,
    decoupled_weight_decay,
    l2_regularization,
    with_weight_decay,
)
from funcnn.optimizers.descent import FORMS, MomentumState, SGDState, momentum, nesterov, sgd

OPTIMIZERS = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adamw": adamw,
}
"""Name -> factory. The names are those of :data:`funcnn.train.optim.OPTIMIZERS`."""

# Every option that fixes a convention, as (the paper's value, optax's value). Weight decay
# through make() is the same for every name (decoupled; scaled by the learning rate in optax).
_DECAY = {"decoupled": (True, True), "scale_decay_by_lr": (False, True)}
_CONVENTION_OPTIONS = {
    "sgd": {**_DECAY},
    "momentum": {"form": ("velocity", "trace"), **_DECAY},
    "nesterov": {"form": ("velocity", "trace"), **_DECAY},
    "adagrad": {"initial_accumulator_value": (0.0, 0.1), "eps_in_sqrt": (False, True), **_DECAY},
    "rmsprop": {
        "eps_in_sqrt": (False, True),
        "initial_scale": (0.0, 0.0),
        "bias_correction": (False, False),
        **_DECAY,
    },
    "adam": {"bias_correction": (True, True), **_DECAY},
    "adamw": {"bias_correction": (True, True), **_DECAY},
}

CONVENTIONS = {
    preset: {name: {k: v[i] for k, v in opts.items()} for name, opts in _CONVENTION_OPTIONS.items()}
    for i, preset in enumerate(("paper", "optax"))
}
"""``CONVENTIONS[preset][name]``: the options that set optimizer ``name`` to the papers'
(``"paper"``, the factories' defaults) or to optax's (``"optax"``) conventions."""

_MAKE_ARGS = ("learning_rate", "momentum", "weight_decay", "mask")


def options(name: str) -> tuple[str, ...]:
    """The ``**options`` that :func:`make` accepts for optimizer ``name``."""
    name = checks.check_choice(name, OPTIMIZERS, "optimizer")
    own = [p for p in inspect.signature(OPTIMIZERS[name]).parameters if p not in _MAKE_ARGS]
    return tuple(dict.fromkeys([*own, *_DECAY]))


def make(
    name: str,
    learning_rate,
    *,
    weight_decay=0.0,
    momentum: float = 0.9,
    conventions: str = "paper",
    mask=weight_mask,
    **options_,
):
    """An optimizer by name, with the papers' or optax's conventions, and weight decay.

    Args:
        name: one of :data:`OPTIMIZERS`: "sgd", "momentum", "nesterov", "adagrad",
            "rmsprop", "adam", "adamw".
        learning_rate: a positive number, a traced scalar, or a schedule ``k -> eta_k``.
        weight_decay: ``lambda >= 0`` (a number or a schedule) on the leaves ``mask``
            selects. For "adamw" it is AdamW's; for the others (and "adam", which then equals
            "adamw") decoupled decay is chained after the update rule. Careful: under
            ``conventions="paper"`` it is *not* multiplied by the learning rate (Loshchilov
            and Hutter), so optax's (and funcnn.train's) ``lambda`` is ``lr * lambda`` here.
        momentum: ``mu`` of "momentum" and "nesterov" (unused by the others).
        conventions: "paper" (the factories' defaults) or "optax"; see :data:`CONVENTIONS`.
        mask: which leaves decay; default the weights "w"/"w_*" (:func:`weight_mask`).
        **options_: any option of the factory (e.g. ``b1``, ``eps``, ``eps_in_sqrt``,
            ``form``) or ``decoupled`` / ``scale_decay_by_lr``; they override the preset.

    Returns:
        An ``optax.GradientTransformation``.

    Examples:
        >>> import jax.numpy as jnp, optax
        >>> params, grads = {"w": jnp.array([1.0, -2.0])}, {"w": jnp.array([0.5, 0.01])}
        >>> opt = make("adagrad", 0.1, conventions="optax")    # == optax.adagrad(0.1)
        >>> ours, _ = opt.update(grads, opt.init(params), params)
        >>> ref = optax.adagrad(0.1)
        >>> theirs, _ = ref.update(grads, ref.init(params))
        >>> bool(jnp.allclose(ours["w"], theirs["w"]))
        True
        >>> paper = make("adagrad", 0.1)                       # s_0 = 0: a full first step
        >>> [round(float(u), 4) for u in paper.update(grads, paper.init(params))[0]["w"]]
        [-0.1, -0.1]
    """
    name = checks.check_choice(name, OPTIMIZERS, "optimizer")
    checks.check_choice(conventions, CONVENTIONS, "conventions")
    valid = options(name)
    unknown = sorted(set(options_) - set(valid))
    if unknown:
        raise TypeError(
            f'optimizer "{name}" got unknown options {unknown}; valid options: {", ".join(valid)}.'
        )
    opts = {**CONVENTIONS[conventions][name], **options_}
    if name == "adamw":
        return adamw(learning_rate, weight_decay=weight_decay, mask=mask, **opts)
    decoupled, scale = opts.pop("decoupled"), opts.pop("scale_decay_by_lr")
    if name in ("momentum", "nesterov"):
        opts["momentum"] = momentum
    optimizer = OPTIMIZERS[name](learning_rate, **opts)
    if checks.is_static_zero(weight_decay):
        return optimizer
    scale = check_flag(scale, "scale_decay_by_lr")
    return with_weight_decay(
        optimizer,
        weight_decay,
        learning_rate=learning_rate if scale else None,
        mask=mask,
        decoupled=decoupled,
    )


__all__ = [
    "CONVENTIONS",
    "FORMS",
    "OPTIMIZERS",
    "AdagradState",
    "AdamState",
    "MomentumState",
    "RMSPropState",
    "SGDState",
    "WeightDecayState",
    "adagrad",
    "adam",
    "adamw",
    "decoupled_weight_decay",
    "l2_regularization",
    "make",
    "momentum",
    "nesterov",
    "options",
    "rmsprop",
    "sgd",
    "weight_mask",
    "with_weight_decay",
]
