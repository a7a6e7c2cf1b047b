"""Random numbers for the gradient-check cases, and non-trivial parameters for any model.

Weights ~ N(0, 1/fan_in) and biases ~ N(0, 0.1^2): no leaf is zero, since zero biases (or
the perceptron's zero initialization) would hide a wrong backward.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

BATCH = 6  # examples per case


class Draws:
    """Random numbers for one case, from one ``jax.random.key``.

    Two fixed-size blocks (standard normal and uniform) are drawn once and handed out in
    order, reshaped as asked: every case then costs one call of the same compiled sampler,
    instead of one fresh compilation per shape.
    """

    SIZE = 512

    def __init__(self, key, dtype, size: int = SIZE):
        # 32-bit random words from the key (the same with or without x64), turned into
        # float64 uniforms in (0, 1) and, by Box-Muller, standard normals.
        bits = np.asarray(jax.random.bits(key, (3, size), jnp.uint32), np.float64)
        u = (bits + 0.5) / 2.0**32
        self._normal = np.sqrt(-2.0 * np.log(u[0])) * np.cos(2.0 * np.pi * u[1])
        self._uniform = u[2]
        self._i = {"n": 0, "u": 0}
        self.dtype = jnp.dtype(dtype)

    def _take(self, which: str, shape) -> np.ndarray:
        pool = self._normal if which == "n" else self._uniform
        n = int(np.prod(shape, dtype=np.int64))
        i = self._i[which]
        if i + n > pool.size:
            raise ValueError(f"needs more than {pool.size} random numbers; pass a larger size.")
        self._i[which] = i + n
        return pool[i : i + n].reshape(shape)

    def normal(self, shape, scale=1.0):
        return jnp.asarray(scale * self._take("n", shape), self.dtype)

    def uniform(self, shape, low=0.0, high=1.0):
        return jnp.asarray(low + (high - low) * self._take("u", shape), self.dtype)

    def randint(self, shape, n: int):
        return jnp.asarray(np.floor(self._take("u", shape) * n).astype(np.int32))

    def bernoulli(self, shape, p=0.5):
        return self._take("u", shape) < p


def targets(draws: Draws, loss: str, batch: int, out_shape) -> jnp.ndarray:
    """Targets for ``loss``: integer labels for softmax cross-entropy, 0/1 for binary
    cross-entropy, standard normals for the regression losses."""
    if loss == "softmax_cross_entropy":
        return draws.randint((batch,), out_shape[-1])  # integer class labels
    if loss == "binary_cross_entropy":
        return jnp.asarray(draws.bernoulli((batch, *out_shape)), draws.dtype)
    return draws.normal((batch, *out_shape))


def nontrivial_params(model, draws: Draws):
    """Parameters shaped like ``model.init``'s, drawn from ``draws``: every leaf of rank >= 2
    (a weight) ~ N(0, 1/fan_in) with fan_in the product of all but its last axis, every other
    leaf (a bias) ~ N(0, 0.1^2); within a layer "w" first, then the others by name."""
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    return [_draw_layer(layer, draws) for layer in shapes]


def _draw_layer(layer, draws: Draws):
    if isinstance(layer, (list, tuple)):  # a nested composition: a list of layers
        return [_draw_layer(p, draws) for p in layer]
    out = {}
    for name in sorted(layer, key=lambda n: (n != "w", n)):
        if isinstance(layer[name], (dict, list, tuple)):  # e.g. a bidirectional cell's halves
            out[name] = _draw_layer(layer[name], draws)
            continue
        shape = tuple(layer[name].shape)
        scale = 1.0 / np.sqrt(np.prod(shape[:-1])) if len(shape) >= 2 else 0.1
        out[name] = draws.normal(shape, scale)
    return {name: out[name] for name in layer}
