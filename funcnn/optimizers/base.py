"""What every optimizer of :mod:`funcnn.optimizers` shares.

* hyperparameter checks that name the argument: Python numbers and concrete scalar arrays are
  range-checked when the optimizer is built; a traced scalar (a grid of values under
  ``jax.vmap``, or ``optax.inject_hyperparams``) is accepted as is, since its value is unknown
  at trace time;
* the step counter ``k`` (updates made so far) and the learning rate ``eta_k`` it selects;
* weight masks: funcnn's convention that leaves named ``"w"`` or ``"w_*"`` are weights
  (:func:`funcnn.losses.weights_only`), and optax's convention that a mask is a pytree of
  bools, a prefix of one, or a callable returning one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from funcnn import checks
from funcnn.losses import weights_only

Schedule = Callable[[jax.Array], Any]
"""An optax schedule: the update count ``k = 0, 1, ...`` to a scalar (a learning rate)."""

_NUMBER = (int, float, np.integer, np.floating)
_INT32_MAX = np.iinfo(np.int32).max


def check_scalar(value, name: str, ok: Callable[[float], bool], want: str):
    """A float hyperparameter: a number, or a scalar array (traced ones pass unchecked).

    Raises ``TypeError`` for anything else (a bool, a string, a non-scalar array) and
    ``ValueError`` when a known value fails ``ok``. Returns ``value`` unchanged, so Python
    floats stay weakly typed and never promote float32 parameters.
    """
    is_array = hasattr(value, "shape") and hasattr(value, "dtype")
    if isinstance(value, bool) or not (isinstance(value, _NUMBER) or is_array):
        raise TypeError(f"{name} must be {want}; got {type(value).__name__} {value!r:.60}.")
    if is_array and np.shape(value) != ():
        raise TypeError(f"{name} must be {want}, a scalar; got an array of shape {value.shape}.")
    if checks.is_concrete(value) and not ok(float(value)):
        raise ValueError(f"{name} must be {want}; got {float(value)!r}.")
    return value


def check_learning_rate(learning_rate, name: str = "learning_rate"):
    """``eta``: a positive finite number, a scalar array, or a schedule ``k -> eta_k``."""
    if callable(learning_rate):
        return learning_rate
    want = "a positive, finite number or a schedule step -> lr"
    return check_scalar(learning_rate, name, lambda v: 0 < v < np.inf, want)


def check_decay_rate(value, name: str):
    """A decay rate of a moving average (``beta``, ``mu``, ``rho``) in ``[0, 1)``."""
    return check_scalar(value, name, lambda v: 0 <= v < 1, "a decay rate in [0, 1)")


def check_eps(value, name: str = "eps"):
    """``epsilon > 0``, the term that keeps a denominator away from zero."""
    return check_scalar(value, name, lambda v: 0 < v < np.inf, "a positive, finite number")


def check_nonnegative(value, name: str, *, schedule: bool = False):
    """A coefficient ``>= 0`` (an initial accumulator, a weight decay), or a schedule."""
    if schedule and callable(value):
        return value
    want = "a finite number >= 0" + (" or a schedule step -> value" if schedule else "")
    return check_scalar(value, name, lambda v: 0 <= v < np.inf, want)


def check_flag(value, name: str) -> bool:
    """A static Python bool choosing a convention (never a traced array)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(
            f"{name} must be True or False (a static Python bool, it selects the update "
            f"rule); got {type(value).__name__} {value!r:.60}."
        )
    return bool(value)


def value_at(scalar_or_schedule, count):
    """``eta_k``: the schedule at update ``k = count``, or the constant itself."""
    return scalar_or_schedule(count) if callable(scalar_or_schedule) else scalar_or_schedule


def zero_count() -> jax.Array:
    """``k = 0``, the count of a fresh state: shape (), int32."""
    return jnp.zeros([], jnp.int32)


def next_count(count: jax.Array) -> jax.Array:
    """``k + 1``, saturating at the int32 maximum instead of wrapping (as optax's counters)."""
    return jnp.where(count < _INT32_MAX, count + 1, count)


def weight_mask(params):
    """Pytree of bools: True on weights (last key ``"w"`` or ``"w_*"``), False on the rest
    (biases, initial states): :func:`funcnn.losses.weights_only` on every leaf."""
    return jax.tree_util.tree_map_with_path(weights_only, params)


def leaf_flags(mask, params, name: str = "mask"):
    """Expand ``mask`` to one static bool per leaf of ``params``.

    ``mask`` is None (every leaf), a pytree of bools with the structure of ``params`` or a
    prefix of it (a bool then covers its whole subtree), or a callable ``params -> such a
    pytree`` (optax's convention, e.g. :func:`weight_mask`).
    """
    if mask is None:
        return jax.tree.map(lambda _: True, params)
    tree = mask(params) if callable(mask) else mask

    def spread(flag, subtree):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(
                f"{name} must hold static Python bools (True: the leaf decays); got "
                f"{type(flag).__name__}."
            )
        return jax.tree.map(lambda _: bool(flag), subtree)

    try:
        return jax.tree.map(spread, tree, params)
    except ValueError as err:
        raise ValueError(
            f"{name} must be a pytree of bools with the structure of params (or a prefix of "
            f"it), or a callable params -> such a pytree; {err}"
        ) from None
