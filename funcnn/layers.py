"""Building blocks: the dense layer, its absorbed-bias form, and inverted dropout.

Layout (used everywhere in funcnn): inputs are batches of rows ``x: (batch, n_in)``; a dense
layer is ``{"w": (n_in, n_out), "b": (n_out,)}`` and computes ``x @ w + b``. The notes write
``W`` as ``(n_out, n_in)`` acting on a column vector, ``W x + b``; ours is its transpose
acting on rows, so the notes' ``W`` is our ``w.T``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.initializers import get_initializer

Array = jnp.ndarray


def dense_init(
    key,
    n_in: int,
    n_out: int,
    *,
    w_init: str = "xavier_normal",
    b_init: str = "zeros",
    dtype=jnp.float32,
    **w_options,
) -> dict[str, Array]:
    """Parameters ``{"w": (n_in, n_out), "b": (n_out,)}`` of one dense layer.

    Args:
        key: a ``jax.random.key``; split into ``wkey`` and ``bkey``.
        w_init, b_init: initializer names (see :mod:`funcnn.initializers`).
        **w_options: options of the weight initializer (``std`` for "normal", ...).
    """
    n_in = checks.check_positive_int(n_in, "n_in")
    n_out = checks.check_positive_int(n_out, "n_out")
    wkey, bkey = jax.random.split(key)
    w = get_initializer(w_init, **w_options)(wkey, (n_in, n_out), dtype)
    b = get_initializer(b_init)(bkey, (n_out,), dtype)
    return {"w": w, "b": b}


def check_dense_input(params: dict, x: Array, name: str = "x") -> None:
    """Check ``x: (batch, n_in)`` against ``params["w"]: (n_in, n_out)``."""
    w = params["w"]
    checks.check_rank(w, 2, "params['w']", "(n_in, n_out)")
    checks.check_rank(x, 2, name, "(batch, n_in); add a batch axis with x[None]")
    checks.check_batch(x, name)
    checks.check_floating(x, name)
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"{name} has {x.shape[1]} features but the layer expects n_in = {w.shape[0]} "
            f"(params['w'] has shape {w.shape}); got {name} of shape {x.shape}."
        )


def dense_apply(params: dict, x: Array) -> Array:
    """z = x @ w + b: ``(batch, n_in) -> (batch, n_out)`` (the notes' W z + b, transposed)."""
    check_dense_input(params, x)
    return x @ params["w"] + params["b"][None, :]


# --- absorbed bias (the index-notation note, eq. 2) ---------------------------------------


def append_ones(x: Array) -> Array:
    """Append the constant input 1 as the last feature: ``(batch, n) -> (batch, n + 1)``."""
    checks.check_rank(x, 2, "x", "(batch, n_in)")
    return jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)


def absorb_bias(params: dict) -> dict[str, Array]:
    """``{"w", "b"}`` -> ``{"w": (n_in + 1, n_out)}`` with the bias as the last row.

    The index-notation note (eq. 2) writes o_i = f(w_ij o_j) with "the bias absorbed into the
    weights (requiring the last component of each layer to always be 1)"; in its
    ``(n_out, n_in + 1)`` layout the bias is the last column, in our transposed layout the
    last row.
    """
    w, b = params["w"], params["b"]
    checks.check_rank(w, 2, "params['w']", "(n_in, n_out)")
    checks.check_rank(b, 1, "params['b']", "(n_out,)")
    if b.shape[0] != w.shape[1]:
        raise ValueError(f"params['b'] must have shape ({w.shape[1]},); got {b.shape}.")
    return {"w": jnp.concatenate([w, b[None, :]], axis=0)}


def split_bias(params: dict) -> dict[str, Array]:
    """Inverse of :func:`absorb_bias`: ``{"w": (n_in + 1, n_out)}`` -> ``{"w", "b"}``."""
    w = params["w"]
    checks.check_rank(w, 2, "params['w']", "(n_in + 1, n_out)")
    return {"w": w[:-1], "b": w[-1]}


def dense_absorbed_apply(params: dict, x: Array) -> Array:
    """z = [x, 1] @ w_tilde: the same output as :func:`dense_apply` on the split form."""
    w = params["w"]
    checks.check_rank(w, 2, "params['w']", "(n_in + 1, n_out)")
    checks.check_rank(x, 2, "x", "(batch, n_in)")
    if x.shape[1] + 1 != w.shape[0]:
        raise ValueError(
            f"x has {x.shape[1]} features but the absorbed-bias weight has shape {w.shape} "
            f"(expects n_in + 1 = {w.shape[0]} rows, so x must have {w.shape[0] - 1} features)."
        )
    return append_ones(x) @ w


# --- dropout ------------------------------------------------------------------------------


def dropout_mask(key, rate: float, shape, dtype=jnp.float32) -> Array:
    """The inverted-dropout multiplier: 0 with probability ``rate``, else 1 / (1 - rate).

    ``rate`` is the probability of *dropping* a unit (unlike ``stax.Dropout``, which takes the
    keep probability). E[mask] = 1, so activations keep their expectation.
    """
    rate = checks.check_rate(rate, "rate")
    keep = jax.random.bernoulli(key, 1.0 - rate, shape)
    return keep.astype(dtype) / (1.0 - rate)


def dropout(x: Array, rate: float, *, key=None, train: bool = False) -> Array:
    """Inverted dropout (the digest, section 5): h' = h m / (1 - p), m ~ Bernoulli(1 - p).

    Identity when ``train`` is False or ``rate`` is 0. In training a ``key`` is required:
    funcnn never draws a mask from a hidden or default key.
    """
    rate = checks.check_rate(rate, "rate")
    if not train or rate == 0.0:
        return x
    if key is None:
        raise ValueError("dropout with train=True and rate > 0 needs key=jax.random.key(...).")
    return x * dropout_mask(key, rate, x.shape, x.dtype)
