"""The hand-written ``value_and_grad`` of a loss (plus penalties) of any model.

The model's registered forward gives its output and caches, the loss's backward gives
``dL/dout`` (where the recursion starts), and the model's registered backward runs the delta
recursion back through its blocks; the penalties add ``lambda w`` (and ``lambda sign(w)``) to
the weights' gradients.
"""

from __future__ import annotations

from collections.abc import Callable

from funcnn import checks
from funcnn.backprop.losses import add_penalties, add_penalty_grads, loss_backward, loss_forward
from funcnn.backprop.registry import backward, forward, pair
from funcnn.blocks import Serial
from funcnn.losses import LOSSES


def check_registered(model) -> None:
    """``TypeError`` (from :func:`pair`) unless ``model`` has a registered pair and so has every
    block the generic recursion over a :class:`~funcnn.blocks.Serial` dispatches to."""
    pair(model)
    if isinstance(model, Serial):
        for block in model.blocks:
            check_registered(block)


def check_objective(model, loss: str, l2, l1) -> tuple:
    """Validate the arguments of :func:`value_and_grad` and the bridge; returns ``(l2, l1)``."""
    check_registered(model)  # a clear error now, not at the first call, when a pair is missing
    checks.check_choice(loss, LOSSES, "loss")
    return checks.check_nonnegative(l2, "l2"), checks.check_nonnegative(l1, "l1")


def value_and_grad(model, loss: str, *, l2=0.0, l1=0.0) -> Callable:
    """Hand-written ``value_and_grad`` of ``loss(model.apply(params, x), y) + penalties``.

    Args:
        model: any funcnn model (a dense network, a :class:`funcnn.blocks.Serial`, ...)
            whose blocks have registered backprop pairs.
        loss: a name of :data:`funcnn.losses.LOSSES`: "mse", "sum_squared_error",
            "softmax_cross_entropy" or "binary_cross_entropy" (the last two take logits).
        l2: coefficient lambda of ``l2_penalty(params)`` = 1/2 sum ||w||^2 (weights only);
            a number, or a scalar array (traced under a vmapped grid).
        l1: coefficient of ``l1_penalty(params)`` = sum |w| (weights only).

    Returns:
        ``f(params, x, y, key=None) -> (loss_value, grads)``: pure and jit-able, ``grads``
        with exactly the structure of ``params``. Random blocks (dropout) are active iff
        ``key`` is given, with the draws ``model.apply(params, x, key=key, train=True)`` makes.

    Example:
        >>> import jax, funcnn
        >>> net = funcnn.mlp([4, 8, 3], "relu")
        >>> params = net.init(jax.random.key(0))
        >>> x, labels = jax.numpy.ones((5, 4)), jax.numpy.array([0, 1, 2, 0, 1])
        >>> f = jax.jit(funcnn.backprop.value_and_grad(net, "softmax_cross_entropy"))
        >>> loss, grads = f(params, x, labels)
        >>> [g["w"].shape for g in grads]
        [(4, 8), (8, 3)]
    """
    l2, l1 = check_objective(model, loss, l2, l1)

    def f(params, x, y, key=None):
        out, cache = forward(model, params, x, key)
        value, loss_cache = loss_forward(loss, out, y)
        dout, _ = loss_backward(loss, loss_cache)  # dL/dout: where the recursion starts
        grads, _ = backward(model, params, cache, dout)
        return add_penalties(value, params, l2, l1), add_penalty_grads(grads, params, l2, l1)

    return f
