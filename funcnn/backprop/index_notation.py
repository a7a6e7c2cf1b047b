"""Backpropagation in index notation, as the math paper writes it (section 2, eqs. 2-8).

The paper absorbs the bias into the weights and writes a layer in Einstein notation (a
repeated index is summed):

    o_i^(l) = f_(l)(w_ij^(l) o_j^(l-1))                                           (2)
    d o_k^(l) / d w_ij^(l) = f'_(l) delta_ik o_j^(l-1)           (delta_ik: Kronecker)  (3)
    dL / d w_ij^(l) = dL/do_k^(l) d o_k^(l)/d w_ij^(l) = dL/do_i^(l) f'_(l) o_j^(l-1)   (4)
    dL / d o_i^(l) = dL/do_k^(l+1) d o_k^(l+1)/d o_i^(l)                             (6)
    d o_k^(l+1) / d o_i^(l) = f'_(l+1) w_ki^(l+1)                                    (7)

"requiring the last component of each layer to always be 1". With the net input
``net_i^(l) = w_ij^(l) o_j^(l-1)`` and ``delta_i^(l) = dL/do_i^(l) f'_(l)(net_i^(l))`` (the
derivative of the loss with respect to ``net_i``), eqs. 4, 6 and 7 are the three lines

    delta_i^(M) = dL/do_i^(M) f'_(M)(net_i^(M))
    delta_i^(l) = f'_(l)(net_i^(l)) w_ki^(l+1) delta_k^(l+1)                  (6 with 7)
    dL / d w_ij^(l) = delta_i^(l) o_j^(l-1)                                  (4 with 3)

and eq. 5 (the whole chain dL/do^(M) ... d o^(l+1)/d o^(l)) and eq. 8 (its schematic product
of matrices) are what the recursion unrolls to. This module writes
them with :func:`jax.numpy.einsum` under the paper's index names, one equation per line, with
a batch index ``b`` in front (the gradient sums over it: the lecture's "sum gradients over all
other samples"). The paper counts the input as ``o^(1) = x``; we call it ``o^(0)`` so that
layer ``l = 1..M`` has the weights ``w^(l)``.

Layout. The paper's ``w_ij^(l)`` is ``(n_l, n_{l-1} + 1)``: output index ``i``, input index
``j``, the bias in the last column (the one that meets the constant 1). funcnn stores the
absorbed weight transposed, ``{"w": (n_{l-1} + 1, n_l)}`` with the bias as the last row
(:func:`funcnn.layers.absorb_bias`); here it is transposed once on the way in (``w.T``) and
the gradient once on the way out, so that every einsum names the paper's indices.

The same gradients in matrix form are :func:`funcnn.backprop.mlp_backward` on the split
parameters (:func:`funcnn.layers.split_bias`); the tests check the two against each other and
against ``jax.grad``. Nothing here calls JAX's automatic differentiation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import chex
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import get_activation
from funcnn.backprop.losses import loss_backward, loss_forward
from funcnn.backprop.mlp import check_mlp
from funcnn.layers import append_ones
from funcnn.losses import LOSSES
from funcnn.models import MLP

Array = jnp.ndarray


class IndexCache(NamedTuple):
    """What the backward needs, one entry per layer ``l = 1..M`` (index ``l - 1``)."""

    o_prev: tuple  # M arrays (B, n_{l-1} + 1): o_j^(l-1) with the constant 1 as last component
    net: tuple  # M arrays (B, n_l): net_i^(l) = w_ij^(l) o_j^(l-1)


def check_absorbed_params(model: MLP, params) -> None:
    """``ValueError`` unless ``params`` is ``[{"w": (n_{l-1} + 1, n_l)}]`` for ``model``."""
    sizes = model.sizes
    n_layers = len(sizes) - 1
    if not isinstance(params, (list, tuple)) or len(params) != n_layers:
        raise ValueError(
            f"params must be a list of {n_layers} absorbed-bias layers [{{'w': (n_in + 1, "
            f"n_out)}}, ...] for sizes {sizes}; got {type(params).__name__} of length "
            f"{len(params) if isinstance(params, (list, tuple)) else '-'}."
        )
    for l, layer in enumerate(params, start=1):
        if not isinstance(layer, dict) or set(layer) != {"w"}:
            keys = sorted(layer) if isinstance(layer, dict) else type(layer).__name__
            raise ValueError(
                f"params[{l - 1}] must be {{'w': absorbed weight}} only; got {keys}. Absorb "
                "the bias first: [funcnn.layers.absorb_bias(p) for p in params]."
            )
        want = (sizes[l - 1] + 1, sizes[l])
        checks.check_floating(layer["w"], f"params[{l - 1}]['w']")
        if tuple(layer["w"].shape) != want:
            raise ValueError(
                f"params[{l - 1}]['w'] must have shape {want} = (n_{l - 1} + 1, n_{l}), the "
                f"bias as its last row (funcnn.layers.absorb_bias); got {layer['w'].shape}."
            )


def index_forward(model: MLP, params, x: Array) -> tuple[Array, IndexCache]:
    """Eq. 2 layer by layer: ``o_i^(l) = f_(l)(w_ij^(l) o_j^(l-1))``, with ``o^(0) = x``.

    Args:
        model: a dense network (:class:`funcnn.MLP`); only its sizes and layer activations
            are used. The pass is the evaluation pass: the paper's network has no dropout.
        params: ``[{"w": (n_{l-1} + 1, n_l)}]``, the bias absorbed as the last row
            (``[funcnn.layers.absorb_bias(p) for p in model.init(key)]``).
        x: ``(B, n_0)``.

    Returns:
        ``(o^(M), cache)``: the output ``(B, n_M)``, equal to ``model.apply`` on the split
        parameters, and an :class:`IndexCache`.
    """
    check_mlp(model)
    check_absorbed_params(model, params)
    model.check_input(x)
    o = x  # o^(0) = x (the paper's o^(1))
    o_prev, nets = [], []
    for l, layer in enumerate(params, start=1):
        w = layer["w"].T  # w_ij^(l): (n_l, n_{l-1} + 1), the paper's layout
        o = append_ones(o)  # o_{n_{l-1}+1}^(l-1) = 1: "the last component ... always 1"
        net = jnp.einsum("ij,bj->bi", w, o)  # net_i = w_ij o_j              (eq. 2, inside f)
        o_prev.append(o)
        nets.append(net)
        o = get_activation(model.layer_activations[l - 1]).f(net)  # o_i = f(net_i)    (eq. 2)
    return o, IndexCache(tuple(o_prev), tuple(nets))


def index_backward(model: MLP, params, cache: IndexCache, dL_do: Array) -> tuple[list, Array, list]:
    """Eqs. 3-7 from the output back: the deltas and ``dL/dw_ij = delta_i o_j``.

    Args:
        model, params: those of the forward pass.
        cache: from :func:`index_forward`.
        dL_do: ``(B, n_M)``, the loss's derivative with respect to the output ``o^(M)``.

    Returns:
        ``(grads, dL_dx, deltas)``: ``grads`` in the layout of ``params``
        (``[{"w": (n_{l-1} + 1, n_l)}]``, the bias gradient as the last row); ``dL_dx``
        ``(B, n_0)``; ``deltas[l - 1]`` = ``delta^(l)`` = dL/dnet^(l), ``(B, n_l)`` (the
        lecture's delta_l, the same numbers as :func:`funcnn.backprop.mlp_backward` gives).
    """
    check_mlp(model)
    check_absorbed_params(model, params)
    M = len(params)
    want = (cache.net[-1].shape[0], model.sizes[-1])
    if tuple(dL_do.shape) != want:
        raise ValueError(f"dL_do must have the output's shape {want} (B, n_M); got {dL_do.shape}.")

    def f_prime(l):  # f'_(l)(net_i^(l)), (B, n_l)
        return get_activation(model.layer_activations[l - 1]).df(cache.net[l - 1])

    def w(l):  # w_ij^(l), the paper's layout (n_l, n_{l-1} + 1)
        return params[l - 1]["w"].T

    delta = {M: dL_do * f_prime(M)}  # delta_i^(M) = dL/do_i^(M) f'_(M)               (eq. 4)
    grads = [None] * M
    for l in range(M, 0, -1):
        if l < M:
            # dL/do_i^(l) = delta_k^(l+1) w_ki^(l+1): eqs. 6 and 7, i over the n_l units (the
            # constant component o_{n_l+1} = 1 depends on no weight: its column is left out).
            dL_do_l = jnp.einsum("ki,bk->bi", w(l + 1)[:, :-1], delta[l + 1])
            delta[l] = f_prime(l) * dL_do_l  # delta_i^(l) = f'_(l) w_ki^(l+1) delta_k^(l+1)
        dw = jnp.einsum("bi,bj->ij", delta[l], cache.o_prev[l - 1])  # delta_i o_j (eqs. 3-4)
        chex.assert_equal_shape([dw, w(l)])
        grads[l - 1] = {"w": dw.T}  # back to funcnn's absorbed layout (n_{l-1} + 1, n_l)
    dL_dx = jnp.einsum("ki,bk->bi", w(1)[:, :-1], delta[1])  # eqs. 6-7 down to o^(0) = x
    grads = type(params)(grads) if isinstance(params, (list, tuple)) else grads
    return grads, dL_dx, [delta[l] for l in range(1, M + 1)]


def index_value_and_grad(model: MLP, loss: str) -> Callable:
    """``f(params, x, y) -> (loss_value, grads)`` for absorbed-bias params, in index notation.

    The loss's derivative ``dL/do^(M)`` comes from :func:`funcnn.backprop.loss_backward`
    (for the lecture's ``sum_squared_error`` it is ``2 (o^(M) - y)``); the rest is
    :func:`index_forward` and :func:`index_backward`. Pure and jit-able.

    Args:
        model: a dense network (:class:`funcnn.MLP`).
        loss: a name of :data:`funcnn.losses.LOSSES`.
    """
    check_mlp(model)
    checks.check_choice(loss, LOSSES, "loss")

    def f(params, x, y):
        out, cache = index_forward(model, params, x)
        value, loss_cache = loss_forward(loss, out, y)
        dL_do, _ = loss_backward(loss, loss_cache)
        grads, _, _ = index_backward(model, params, cache, dL_do)
        return value, grads

    return f
