"""The models several backprop tests share: a dense network, with its data (computed once per
dtype), and a plain composition of blocks."""

import functools

import jax
import jax.numpy as jnp

import funcnn as F
from funcnn import gradcheck as gc
from funcnn.blocks import Act, Dense, Dropout, serial
from tests.helpers import draws, once

NET = F.mlp([5, 6, 4, 3], ["tanh", "relu"], dropout=[0.5, 0.25])
B = 7

#: A composition that is no dense network: nested, with dropout, without an output activation.
SERIAL = serial(
    serial(Dense(4, 5), Act("gelu"), Dropout(0.3)),
    Dense(5, 5, "he_normal"),
    Act("tanh"),
    Dense(5, 3),
)


@functools.cache
def net_data(dtype=jnp.float64, seed=11):
    """Params (ReLU layer moved off its kink), x, labels and a dropout key."""
    with jax.enable_x64(dtype == jnp.float64):
        d = draws(seed, dtype)
        params, x, key = gc.nontrivial_params(NET, d), d.normal((B, 5)), jax.random.key(seed)
        params = once(lambda p, x, k: gc.move_off_kinks(NET, p, x, key=k), params, x, key)
        return params, x, d.randint((B,), 3), key
