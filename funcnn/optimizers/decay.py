r"""Weight decay, and the two places it can enter an update.

* **Decoupled** (Loshchilov and Hutter 2019): after the optimizer has made its step
  :math:`u_k`, shrink the weights, :math:`w_{k+1} = w_k + u_k - \lambda_k w_k`. In the paper
  the decay is multiplied by the schedule multiplier :math:`\eta_k` but not by the learning
  rate :math:`\alpha` (:math:`\lambda_k = \eta_k \lambda`: pass ``weight_decay`` as a
  schedule); optax and PyTorch multiply it by the learning rate, :math:`\alpha_k \lambda w_k`
  (``learning_rate=`` here).
* **Coupled**, an L2 penalty :math:`\tfrac{\lambda}{2} \|w\|^2` in the loss: its gradient
  :math:`\lambda w` joins :math:`g` before the optimizer, so an adaptive method rescales it
  with everything else (the paper's point: for Adam this is not weight decay).

For plain SGD all three are the digest's :math:`w \leftarrow (1 - \eta\lambda) w - \eta g` up
to the scale of :math:`\lambda`. Only the leaves selected by ``mask`` decay (by default the
weights ``"w"``/``"w_*"``, not biases).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from funcnn.optimizers.base import (
    check_flag,
    check_learning_rate,
    check_nonnegative,
    leaf_flags,
    next_count,
    value_at,
    weight_mask,
    zero_count,
)


class WeightDecayState(NamedTuple):
    """State of :func:`decoupled_weight_decay` and :func:`l2_regularization`."""

    count: jax.Array  # shape (), int32: updates made so far, the k of lambda_k and eta_k


def _need_params(params, what: str) -> None:
    if params is None:
        raise ValueError(f"{what} needs the current parameters: call update(grads, state, params).")


def _add_scaled_params(factors, sign: float, mask, what: str) -> optax.GradientTransformation:
    """``u <- u + sign * prod(factors at k) * w`` on the leaves ``mask`` selects.

    Each factor (a number or a schedule) is cast to the leaf's dtype before the product, so a
    float32 schedule never rounds a float64 decay.
    """

    def init(params):
        del params
        return WeightDecayState(count=zero_count())

    def update(updates, state, params=None):
        _need_params(params, what)
        values = [value_at(f, state.count) for f in factors]

        def decay(u, w, on):
            if not on:
                return u
            c = sign * math.prod(jnp.asarray(v, u.dtype) for v in values)
            return (u + c * w).astype(u.dtype)

        updates = jax.tree.map(decay, updates, params, leaf_flags(mask, params))
        return updates, WeightDecayState(count=next_count(state.count))

    return optax.GradientTransformation(init, update)


def decoupled_weight_decay(weight_decay, *, learning_rate=None, mask=weight_mask):
    r"""Decoupled weight decay, placed *after* an optimizer in a chain.

    .. math::

        u_k \leftarrow u_k - \lambda_k w_k \quad \text{(paper)}, \qquad
        u_k \leftarrow u_k - \alpha_k \lambda_k w_k \quad \text{(optax, learning\_rate given)}

    Args:
        weight_decay: :math:`\lambda \ge 0`, a number or a schedule :math:`k \mapsto
            \lambda_k` (the paper's :math:`\eta_k \lambda`).
        learning_rate: None (the paper: the decay is not scaled by the learning rate) or
            :math:`\alpha`, a number or a schedule, to multiply the decay by it (optax).
        mask: which leaves decay: a pytree of bools (or a prefix of one), a callable
            ``params -> pytree of bools``, or None for every leaf. Default: weights only.

    Returns:
        An ``optax.GradientTransformation`` that needs ``params`` in ``update``.
    """
    check_nonnegative(weight_decay, "weight_decay", schedule=True)
    factors = [weight_decay]
    if learning_rate is not None:
        factors.append(check_learning_rate(learning_rate))
    return _add_scaled_params(factors, -1.0, mask, "decoupled_weight_decay")


def l2_regularization(weight_decay, *, mask=weight_mask):
    r"""The gradient of an L2 penalty, placed *before* an optimizer in a chain.

    .. math::

        g_k \leftarrow g_k + \lambda_k w_k
        = \nabla \Big( f(w) + \tfrac{\lambda_k}{2} \|w\|_2^2 \Big)

    Args:
        weight_decay: :math:`\lambda \ge 0`, a number or a schedule.
        mask: which leaves are penalized (see :func:`decoupled_weight_decay`).

    Returns:
        An ``optax.GradientTransformation`` that needs ``params`` in ``update``.
    """
    check_nonnegative(weight_decay, "weight_decay", schedule=True)
    return _add_scaled_params([weight_decay], 1.0, mask, "l2_regularization")


def with_weight_decay(
    optimizer: optax.GradientTransformation,
    weight_decay,
    *,
    learning_rate=None,
    mask=weight_mask,
    decoupled: bool = True,
) -> optax.GradientTransformation:
    """``optimizer`` with weight decay: decoupled after it, or an L2 gradient before it.

    Args:
        optimizer: the update rule, which applies its own learning rate.
        weight_decay: :math:`\\lambda \\ge 0`, a number or a schedule.
        learning_rate: for decoupled decay, None (paper) or the learning rate to scale the
            decay by (optax); ignored when ``decoupled`` is False.
        mask: which leaves decay (default: weights only).
        decoupled: True for decoupled decay (AdamW), False for an L2 penalty's gradient.

    Returns:
        ``optax.chain(optimizer, decoupled_weight_decay(...))`` or
        ``optax.chain(l2_regularization(...), optimizer)``.
    """
    if check_flag(decoupled, "decoupled"):
        decay = decoupled_weight_decay(weight_decay, learning_rate=learning_rate, mask=mask)
        return optax.chain(optimizer, decay)
    return optax.chain(l2_regularization(weight_decay, mask=mask), optimizer)
