"""A ``jax.custom_vjp`` bridge: the hand-written backward wherever JAX wants a gradient.

``loss_fn = bridge(model, "softmax_cross_entropy")`` is an ordinary JAX function
``(params, x, y, key=None) -> scalar``; JAX's transformations see its forward, and when they
ask for its vector-Jacobian product they get :func:`funcnn.backprop.mlp_backward`, not a
derivative traced by autodiff. So ``jax.grad`` applied to ``loss_fn`` returns the manual
gradients (which can drive any optax optimizer), and ``jax.vmap`` of that gradient over single
examples (``in_axes=(None, 0, 0)``) gives per-example gradients. (This module itself never
calls JAX's autodiff: JAX calls the backward defined here.)
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from funcnn import checks
from funcnn.backprop.blocks import (
    l1_penalty_backward,
    l1_penalty_forward,
    l2_penalty_backward,
    l2_penalty_forward,
    loss_backward,
    loss_forward,
)
from funcnn.backprop.mlp import (
    _active,
    _check_coefficient,
    _check_model,
    _masks,
    mlp_backward,
    mlp_forward,
)
from funcnn.losses import LOSSES
from funcnn.models import MLP


def bridge(model: MLP, loss: str, *, l2: float = 0.0, l1: float = 0.0) -> Callable:
    """The loss ``loss(model.apply(params, x), y) + l2 * l2_penalty + l1 * l1_penalty`` as a
    ``jax.custom_vjp`` function whose backward is the hand-written delta recursion.

    Args:
        model: a funcnn :class:`~funcnn.models.MLP`.
        loss: a name of :data:`funcnn.losses.LOSSES`.
        l2, l1: penalty coefficients, as in :func:`funcnn.backprop.value_and_grad`.

    Returns:
        ``loss_fn(params, x, y, key=None) -> scalar``. Differentiable (by the manual backward)
        with respect to ``params``, ``x`` and float targets ``y``; integer labels and the
        dropout masks drawn from ``key`` get no gradient.

    Example:
        >>> loss_fn = bridge(net, "softmax_cross_entropy")
        >>> grad_fn = jax.grad  # the caller's autodiff, answered by the manual backward
        >>> grads = grad_fn(loss_fn)(params, x, labels)      # == value_and_grad(...)[1]
        >>> updates, opt_state = optax.adam(1e-3).update(grads, opt_state)
    """
    _check_model(model)
    checks.check_choice(loss, LOSSES, "loss")
    l2 = _check_coefficient(l2, "l2")
    l1 = _check_coefficient(l1, "l1")

    def _fwd(params, x, y, masks):
        out, cache = mlp_forward(model, params, x, masks=list(masks))  # z_L
        value, loss_cache = loss_forward(loss, out, y)
        if _active(l2):
            value = value + l2 * l2_penalty_forward(params)
        if _active(l1):
            value = value + l1 * l1_penalty_forward(params)
        return value, (params, cache, loss_cache)

    @jax.custom_vjp
    def _loss(params, x, y, masks):
        return _fwd(params, x, y, masks)[0]

    def _bwd(residuals, g):
        params, cache, loss_cache = residuals
        dout, dy = loss_backward(loss, loss_cache, g)  # g dL/dz_L and g dL/dy
        grads, dx, _ = mlp_backward(model, params, cache, dout)  # the delta recursion
        if _active(l2):
            grads = jax.tree_util.tree_map(
                lambda d, p: d + (g * l2) * p, grads, l2_penalty_backward(params)
            )
        if _active(l1):
            grads = jax.tree_util.tree_map(
                lambda d, s: d + (g * l1) * s, grads, l1_penalty_backward(params)
            )
        # Integer labels have no cotangent (None = zero); the dropout masks are constants.
        return grads, dx, dy, None

    _loss.defvjp(_fwd, _bwd)

    def loss_fn(params, x, y, key=None):
        _check_model(model).check_input(x)
        return _loss(params, x, y, tuple(_masks(model, key, x.shape[0], x.dtype)))

    return loss_fn
