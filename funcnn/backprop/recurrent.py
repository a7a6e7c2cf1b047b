"""Backpropagation through time, written by hand: a reverse ``lax.scan`` carrying ``dL/dh``.

Elman cell, ``a_t = x_t W_x + h_{t-1} W_h + b``, ``h_t = tanh(a_t)``. Going back from the
last step, with ``g_t`` the gradient reaching ``h_t`` from the steps after it (``g_{T-1} = 0``)
and ``dout_t`` the gradient of the loss with respect to the output at ``t``::

    dh_t     = dout_t + g_t                      all that reaches h_t
    delta_t  = dh_t o (1 - h_t^2)                through the tanh: dL/da_t
    dh_{t-1} = delta_t W_h^T                     the carry: g_{t-1}

and the weights, summed over every step and example (the same W at every step):
``dW_x = sum_t x_t^T delta_t``, ``dW_h = sum_t h_{t-1}^T delta_t``, ``db = sum_t delta_t``,
``dx_t = delta_t W_x^T``. Only the carry is sequential; the sums are matrix products over
the stacked deltas after the scan. The product of Jacobians ``prod (1 - h^2) W_h^T`` in the
carry is why an RNN's gradient vanishes (or explodes) along time.

GRU (gates in :mod:`funcnn.blocks.recurrent`), one step back::

    dh_t     = dout_t + g_t
    dhh      = dh_t o (1 - z_t)                  candidate state
    dz       = dh_t o (h_{t-1} - hh_t)           update gate
    delta_h  = dhh o (1 - hh_t^2)                pre-activation of the candidate
    delta_z  = dz o z_t (1 - z_t)
    drh      = delta_h W_hh^T                    d(r_t o h_{t-1})
    delta_r  = drh o h_{t-1} o r_t (1 - r_t)
    dh_{t-1} = dh_t o z_t + drh o r_t + [delta_z, delta_r] [W_hz, W_hr]^T

with ``dW_hh = sum_t (r_t o h_{t-1})^T delta_h`` and the other sums as for the Elman cell.
Truncated BPTT (``truncate=k``) zeroes the carry ``dh_{t-1}`` out of steps ``t = k, 2k, ...``
— the exact gradient of the computation whose state is a constant there. A learned initial
state gets ``dL/dh0 = sum_b dh_{-1}``.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from funcnn.backprop.registry import register
from funcnn.blocks.recurrent import GRU, RNN, Bidirectional, Scan

Array = jnp.ndarray


class RecurrentCache(NamedTuple):
    x: Array  # (B, T, n_in): the input sequence
    scan: Scan  # the states h_{-1..T-1} (T + 1, B, H) and the GRU's gates (T, B, 3H)


def recurrent_forward(block, params, x: Array, key=None) -> tuple[Array, RecurrentCache]:
    """The block's own scan (its ``apply``), keeping every state and gate."""
    s = block.scan(params, x, keep_gates=True)
    return block.output(s.h), RecurrentCache(x, s)


def output_grads(block, dout: Array, T: int) -> Array:
    """``dout_t`` for every step, time-major ``(T, B, H)``: zero before the last step when the
    block returns only its last state."""
    if block.return_sequences:
        return jnp.swapaxes(dout, 0, 1)
    return jnp.zeros((T, *dout.shape), dout.dtype).at[-1].set(dout)


def elman_step_back(block: RNN, w_h: Array, carry: Array, step) -> tuple[Array, Array]:
    """One step of the Elman recursion back:
    ``(g_t, (dout_t, h_t, t)) -> (g_{t-1}, (delta_t, dh_t))``."""
    dout_t, h_t, t = step
    dh_t = dout_t + carry  # dh_t = dout_t + g_t
    delta_t = dh_t * (1.0 - h_t**2)  # delta_t = dh_t o tanh'(a_t)
    dh_prev = delta_t @ w_h.T  # dh_{t-1} = delta_t W_h^T
    return jnp.where(block.is_cut(t), 0.0, dh_prev), (delta_t, dh_t)


def gru_step_back(block: GRU, w_h: Array, carry: Array, step) -> tuple[Array, Array]:
    """One step of the GRU recursion back (module docstring), returning ``[dz, dr, dh]``
    pre-activation deltas ``(B, 3H)``."""
    dout_t, h_prev, gates, t = step
    H = block.n_hidden
    z, r, hh = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]
    dh_t = dout_t + carry  # dh_t = dout_t + g_t
    delta_h = dh_t * (1.0 - z) * (1.0 - hh**2)  # through h_t = ... + (1 - z) hh, then tanh
    delta_z = dh_t * (h_prev - hh) * z * (1.0 - z)  # through the update gate
    drh = delta_h @ w_h[:, 2 * H :].T  # d(r_t o h_{t-1})
    delta_r = drh * h_prev * r * (1.0 - r)  # through the reset gate
    delta_zr = jnp.concatenate([delta_z, delta_r], axis=1)
    dh_prev = dh_t * z + drh * r + delta_zr @ w_h[:, : 2 * H].T  # dh_{t-1}
    deltas = jnp.concatenate([delta_zr, delta_h], 1)
    return jnp.where(block.is_cut(t), 0.0, dh_prev), (deltas, dh_t)


class BPTT(NamedTuple):
    """What the reverse scan yields, time-major."""

    deltas: Array  # (T, B, G H): dL/da_t, the pre-activations of every gate
    dh: Array  # (T, B, H): dL/dh_t, all that reaches h_t (from the output and the future)
    dh_init: Array  # (B, H): dL/dh_{-1}, the gradient of the initial state


def bptt(block, params, cache: RecurrentCache, dout: Array) -> BPTT:
    """The reverse ``lax.scan`` of the module docstring: the carry ``dL/dh`` from the last
    step back to the first. ``dh[t]`` shows how the gradient fades (or grows) along time."""
    x, h = cache.x, cache.scan.h
    B, T = x.shape[0], x.shape[1]
    t = jnp.arange(T)
    douts = output_grads(block, dout, T)  # (T, B, H)
    w_h = params["w_h"]
    if isinstance(block, GRU):
        steps = (douts, h[:-1], cache.scan.gates, t)
        step_back = gru_step_back
    else:
        steps = (douts, h[1:], t)
        step_back = elman_step_back
    carry0 = jnp.zeros((B, block.n_hidden), x.dtype)
    dh_init, (deltas, dh) = jax.lax.scan(
        lambda g, s: step_back(block, w_h, g, s), carry0, steps, reverse=True
    )
    return BPTT(deltas, dh, dh_init)


def recurrent_backward(block, params, cache: RecurrentCache, dout: Array):
    """BPTT: the reverse scan for the carry, then the weight sums as matrix products."""
    x, h = cache.x, cache.scan.h
    deltas, _, dh_init = bptt(block, params, cache, dout)  # deltas: (T, B, G H)
    deltas_btg = jnp.swapaxes(deltas, 0, 1)  # (B, T, G H)
    grads = {
        "w_x": jnp.einsum("bti,btg->ig", x, deltas_btg),  # sum_t x_t^T delta_t
        "w_h": hidden_weight_grad(block, h, cache.scan.gates, deltas),
        "b": jnp.sum(deltas, axis=(0, 1)),  # sum_t delta_t
    }
    if block.learn_h0:
        grads["h0"] = jnp.sum(dh_init, axis=0)  # dL/dh0 = sum_b dh_{-1}
    dx = deltas_btg @ params["w_x"].T  # dx_t = delta_t W_x^T
    chex.assert_trees_all_equal_shapes(grads, params)
    chex.assert_equal_shape([dx, x])
    return grads, dx


def hidden_weight_grad(block, h: Array, gates, deltas: Array) -> Array:
    """``dW_h = sum_t h_{t-1}^T delta_t``; a GRU's candidate column block sees
    ``r_t o h_{t-1}`` instead of ``h_{t-1}``."""
    h_prev = h[:-1]  # (T, B, H)
    if not isinstance(block, GRU):
        return jnp.einsum("tbi,tbg->ig", h_prev, deltas)
    H = block.n_hidden
    r = gates[:, :, H : 2 * H]
    d_zr = jnp.einsum("tbi,tbg->ig", h_prev, deltas[:, :, : 2 * H])
    d_hh = jnp.einsum("tbi,tbg->ig", r * h_prev, deltas[:, :, 2 * H :])
    return jnp.concatenate([d_zr, d_hh], axis=1)


def bidirectional_forward(block: Bidirectional, params, x: Array, key=None):
    out_f, cache_f = recurrent_forward(block.cell, params["fwd"], x)
    out_b, cache_b = recurrent_forward(block.cell, params["bwd"], x[:, ::-1])
    return block.combine(out_f, out_b), (cache_f, cache_b)


def bidirectional_backward(block: Bidirectional, params, caches, dout: Array):
    H = block.cell.n_hidden
    dout_f, dout_b = dout[..., :H], dout[..., H:]
    if block.cell.return_sequences:
        dout_b = dout_b[:, ::-1]  # back to the reversed pass's own time order
    g_f, dx_f = recurrent_backward(block.cell, params["fwd"], caches[0], dout_f)
    g_b, dx_b = recurrent_backward(block.cell, params["bwd"], caches[1], dout_b)
    return {"fwd": g_f, "bwd": g_b}, dx_f + dx_b[:, ::-1]  # the reversed input's gradient


register(RNN, recurrent_forward, recurrent_backward)
register(GRU, recurrent_forward, recurrent_backward)
register(Bidirectional, bidirectional_forward, bidirectional_backward)
