"""Backward of the layout blocks and of the residual connection.

* ``Reshape`` / ``Flatten`` move no numbers: ``dL/dx`` is ``dL/dy`` reshaped back.
* ``Residual``, ``y = x + f(x)``: the skip carries ``dL/dy`` unchanged, so
  ``dL/dx = dL/dy + (df/dx)^T dL/dy`` — the identity path is why deep residual networks do
  not lose their gradient (the MNIST-1D paper's MLP is residual).
"""

from __future__ import annotations

import chex
import jax.numpy as jnp

from funcnn.backprop.registry import backward, forward, register
from funcnn.blocks.structure import Flatten, Reshape, Residual

Array = jnp.ndarray


def reshape_forward(block, params, x: Array, key=None):
    return block.apply(params, x), tuple(x.shape)


def reshape_backward(block, params, in_shape: tuple, dout: Array):
    return (), dout.reshape(in_shape)  # the same numbers, in the input's layout


def residual_forward(block: Residual, params, x: Array, key=None):
    fx, cache = forward(block.f, params, x, key)
    return x + fx, cache  # y = x + f(x)


def residual_backward(block: Residual, params, cache, dout: Array):
    grads, df_dx = backward(block.f, params, cache, dout)  # (df/dx)^T dout
    dx = dout + df_dx  # the skip's identity plus f's path
    chex.assert_equal_shape([dx, dout])
    return grads, dx


register(Reshape, reshape_forward, reshape_backward)
register(Flatten, reshape_forward, reshape_backward)
register(Residual, residual_forward, residual_backward)
