"""Hand-written gradients of attention pooling (the digest, section 11).

Attention(q, D) = sum_i alpha(q, k_i) v_i, with alpha a softmax over the keys of a score
s(q, k_i). Every pooling here is three blocks, and the backward runs them in reverse:

1. the score:     s_qi = -((q - k_i) w)^2 / 2  (Gaussian kernel, Nadaraya–Watson)
                  s_qi = q . k_i / sqrt(d)     (scaled dot product)
2. the softmax:   alpha_qi = softmax_i(s_qi)   (masked keys get alpha = 0 exactly)
3. the pooling:   f_q = sum_i alpha_qi v_i

Backward, for an incoming ``dout = dL/df``:

3'. dL/dalpha_qi = dout_q . v_i,    dL/dv_i = sum_q alpha_qi dout_q
2'. dL/ds_qi = alpha_qi (dL/dalpha_qi - sum_k alpha_qk dL/dalpha_qk)   (a masked key has
    alpha = 0, so it receives no gradient, as in the forward it received no weight)
1'. Gaussian: ds/dw = -(q - k)^2 w, ds/dq = -(q - k) w^2 = -ds/dk;
    dot product: dL/dq = dL/ds @ K / sqrt(d), dL/dK = dL/ds^T @ Q / sqrt(d).

The forwards are those of :mod:`funcnn.attention` (with ``return_weights=True``), so inputs
are validated the same way and outputs are identical.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp

from funcnn.attention import dot_product_attention, parametric_nw_apply
from funcnn.backprop.losses import softmax_backward

Array = jnp.ndarray


# --- pooling: f_q = sum_i alpha_qi v_i -----------------------------------------------------


def attention_pool_backward(weights: Array, values: Array, dout: Array) -> tuple[Array, Array]:
    """Backward of ``funcnn.attention.attention_pool(weights, values)``.

    Args:
        weights: alpha ``(..., n_q, m)``.
        values: ``(..., m)`` or ``(..., m, d_v)``.
        dout: ``(..., n_q)`` or ``(..., n_q, d_v)``, like the pooled output.

    Returns:
        ``(dweights (..., n_q, m), dvalues like values)``.
    """
    lead = weights.shape[:-2]
    n_q = weights.shape[-2]
    if values.ndim == len(lead) + 1:  # scalar values v_i
        if dout.shape != lead + (n_q,):
            raise ValueError(
                f"dout must have the pooled output's shape {lead + (n_q,)}; got {dout.shape}."
            )
        dweights = jnp.einsum("...q,...m->...qm", dout, values)  # dout_q v_i
        dvalues = jnp.einsum("...qm,...q->...m", weights, dout)  # sum_q alpha_qi dout_q
    else:
        want = lead + (n_q, values.shape[-1])
        if dout.shape != want:
            raise ValueError(f"dout must have the pooled output's shape {want}; got {dout.shape}.")
        dweights = jnp.einsum("...qv,...mv->...qm", dout, values)  # dout_q . v_i
        dvalues = jnp.einsum("...qm,...qv->...mv", weights, dout)  # sum_q alpha_qi dout_q
    return dweights, dvalues


# --- (parametric) Nadaraya–Watson ------------------------------------------------------------


class NWCache(NamedTuple):
    diff: Array  # (n_q, m): q - k_i
    w: Array  # (): the bandwidth
    weights: Array  # (n_q, m): alpha
    values: Array  # (m,) or (m, d_v)


def parametric_nw_forward(params: dict, queries: Array, keys: Array, values: Array):
    """f(q) = sum_i softmax_i(-((q - k_i) w)^2 / 2) v_i and its cache.

    Args:
        params: ``{"w": ()}`` from :func:`funcnn.parametric_nw_init`.
        queries: ``(n_q,)``; keys: ``(m,)``; values: ``(m,)`` or ``(m, d_v)``.

    Returns:
        ``(out (n_q,) or (n_q, d_v), NWCache)``.
    """
    out, weights = parametric_nw_apply(params, queries, keys, values, return_weights=True)
    diff = queries[:, None] - keys[None, :]  # (n_q, m)
    return out, NWCache(diff, params["w"], weights, values)


def parametric_nw_backward(params: dict, cache: NWCache, dout: Array):
    """Gradients of the parametric Nadaraya–Watson pooling.

    Returns:
        ``({"w": ()}, dqueries (n_q,), dkeys (m,), dvalues like values)``.
    """
    w, diff = cache.w, cache.diff
    dweights, dvalues = attention_pool_backward(cache.weights, cache.values, dout)  # 3'
    ds = softmax_backward(cache.weights, dweights, axis=-1)  # 2': dL/ds_qi
    # 1': s_qi = -(diff_qi w)^2 / 2
    dw = jnp.sum(ds * (-diff * diff * w))  # ds/dw = -diff^2 w
    ddiff = ds * (-diff * w * w)  # ds/ddiff = -diff w^2
    dqueries = jnp.sum(ddiff, axis=1)  # diff = q - k: +1 for q ...
    dkeys = -jnp.sum(ddiff, axis=0)  # ... and -1 for k
    return {"w": dw}, dqueries, dkeys, dvalues


def nadaraya_watson_forward(queries: Array, keys: Array, values: Array):
    """The Gaussian-kernel Nadaraya–Watson pooling (bandwidth w = 1) and its cache."""
    w = jnp.ones((), dtype=values.dtype)
    return parametric_nw_forward({"w": w}, queries, keys, values)


def nadaraya_watson_backward(cache: NWCache, dout: Array):
    """``(dqueries, dkeys, dvalues)`` of the Nadaraya–Watson pooling (no parameters)."""
    _, dq, dk, dv = parametric_nw_backward({"w": cache.w}, cache, dout)
    return dq, dk, dv


# --- scaled dot-product attention ---------------------------------------------------------


class DotProductCache(NamedTuple):
    queries: Array  # (..., n_q, d)
    keys: Array  # (..., m, d)
    values: Array  # (..., m, d_v)
    weights: Array  # (..., n_q, m): alpha, exactly 0 on masked keys


def dot_product_attention_forward(
    queries: Array, keys: Array, values: Array, *, mask=None, valid_lens=None
):
    """softmax_i(q . k_i / sqrt(d)) pooling, with a boolean ``mask`` or ``valid_lens``.

    Shapes as :func:`funcnn.dot_product_attention`: queries ``(..., n_q, d)``, keys
    ``(..., m, d)``, values ``(..., m, d_v)``. Returns ``(out (..., n_q, d_v), cache)``.
    """
    out, weights = dot_product_attention(
        queries, keys, values, mask=mask, valid_lens=valid_lens, return_weights=True
    )
    return out, DotProductCache(queries, keys, values, weights)


def dot_product_attention_backward(cache: DotProductCache, dout: Array):
    """``(dqueries, dkeys, dvalues)`` of scaled dot-product attention pooling.

    Masked keys (and queries whose keys are all masked) get exactly zero gradient through
    the weights, because their alpha is exactly zero.
    """
    q, k = cache.queries, cache.keys
    scale = 1.0 / math.sqrt(q.shape[-1])
    dweights, dvalues = attention_pool_backward(cache.weights, cache.values, dout)  # 3'
    ds = softmax_backward(cache.weights, dweights, axis=-1)  # 2': (..., n_q, m)
    # 1': s = Q K^T / sqrt(d)
    dqueries = jnp.einsum("...qm,...md->...qd", ds, k) * scale  # dL/dQ = dS K / sqrt(d)
    dkeys = jnp.einsum("...qm,...qd->...md", ds, q) * scale  # dL/dK = dS^T Q / sqrt(d)
    return dqueries, dkeys, dvalues
