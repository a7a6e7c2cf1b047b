"""A ``jax.custom_vjp`` bridge: the hand-written backward wherever JAX wants a gradient.

``loss_fn = bridge(model, "softmax_cross_entropy")`` is an ordinary JAX function
``(params, x, y, key=None) -> scalar``; JAX's transformations see its forward, and when they
ask for its vector-Jacobian product they get the model's registered backward (the delta
recursion), not a derivative traced by autodiff. So ``jax.grad`` applied to ``loss_fn``
returns the manual gradients (which can drive any optax optimizer), and ``jax.vmap`` of that
gradient over single examples (``in_axes=(None, 0, 0)``) gives per-example gradients. (This
module itself never calls JAX's autodiff: JAX calls the backward defined here.)
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from funcnn.backprop.losses import add_penalties, add_penalty_grads, loss_backward, loss_forward
from funcnn.backprop.objective import check_objective
from funcnn.backprop.registry import backward, forward


def bridge(model, loss: str, *, l2=0.0, l1=0.0) -> Callable:
    """The loss ``loss(model.apply(params, x), y) + l2 * l2_penalty + l1 * l1_penalty`` as a
    ``jax.custom_vjp`` function whose backward is the hand-written one.

    Args:
        model: any funcnn model with registered backprop pairs (:func:`value_and_grad`).
        loss: a name of :data:`funcnn.losses.LOSSES`.
        l2, l1: penalty coefficients, as in :func:`funcnn.backprop.value_and_grad`.

    Returns:
        ``loss_fn(params, x, y, key=None) -> scalar``. Differentiable (by the manual backward)
        with respect to ``params``, ``x`` and float targets ``y``; integer labels and the
        random draws of ``key`` (dropout masks) get no gradient.

    Example:
        >>> import jax, funcnn
        >>> net = funcnn.mlp([4, 8, 3], "tanh")
        >>> params = net.init(jax.random.key(0))
        >>> x, labels = jax.numpy.ones((5, 4)), jax.numpy.array([0, 1, 2, 0, 1])
        >>> loss_fn = funcnn.backprop.bridge(net, "softmax_cross_entropy")
        >>> grad_fn = jax.grad  # the caller's autodiff, answered by the manual backward
        >>> grads = jax.jit(grad_fn(loss_fn))(params, x, labels)
        >>> manual_fn = funcnn.backprop.value_and_grad(net, "softmax_cross_entropy")
        >>> _, manual = jax.jit(manual_fn)(params, x, labels)
        >>> bool(jax.numpy.allclose(grads[0]["w"], manual[0]["w"]))
        True
    """
    l2, l1 = check_objective(model, loss, l2, l1)

    def _fwd(params, x, y, key):
        out, cache = forward(model, params, x, key)
        value, loss_cache = loss_forward(loss, out, y)
        return add_penalties(value, params, l2, l1), (params, cache, loss_cache)

    @jax.custom_vjp
    def _loss(params, x, y, key):
        return _fwd(params, x, y, key)[0]

    def _bwd(residuals, g):
        params, cache, loss_cache = residuals
        dout, dy = loss_backward(loss, loss_cache, g)  # g dL/dout and g dL/dy
        grads, dx = backward(model, params, cache, dout)  # the delta recursion
        grads = add_penalty_grads(grads, params, l2, l1, scale=g)
        # Integer labels have no cotangent (None = zero); nor has the key of the random draws.
        return grads, dx, dy, None

    _loss.defvjp(_fwd, _bwd)

    def loss_fn(params, x, y, key=None):
        model.check_input(x)
        return _loss(params, x, y, key)

    return loss_fn
