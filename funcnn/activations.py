"""Activation functions sigma and their derivatives sigma' (elementwise).

The hand-written backprop needs ``sigma'_j`` explicitly (the lecture's delta recursion,
``delta_j = (W_{j+1}^T delta_{j+1}) o sigma'_j``), so every activation comes as a pair
``(f, df)`` in :data:`ACTIVATIONS`. Look one up by name with :func:`get_activation`.

Kinks follow the notes: ReLU'(0) = 0 (the digest, section 5: "we default to the left-hand-side
derivative"), heaviside'(x) = 0 everywhere (the perceptron has no useful gradient), and
leaky ReLU'(0) = alpha. The forwards are written with ``jnp.where`` so that ``jax.grad``
follows the same convention at the kink and manual and automatic gradients agree exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
from jax.scipy.special import erf

from funcnn.checks import check_choice

Array = jnp.ndarray

LEAKY_RELU_SLOPE = 0.01


class Activation(NamedTuple):
    """An activation ``f`` with its elementwise derivative ``df = f'``."""

    f: Callable[[Array], Array]
    df: Callable[[Array], Array]


def identity(x: Array) -> Array:
    """sigma(x) = x (a deep linear network uses it for every layer)."""
    return x


def d_identity(x: Array) -> Array:
    """sigma'(x) = 1."""
    return jnp.ones_like(x)


def heaviside(x: Array) -> Array:
    """The perceptron's step (the lecture): sigma(t) = 1 if t >= 0, else 0."""
    return jnp.where(x >= 0, jnp.ones_like(x), jnp.zeros_like(x))


def d_heaviside(x: Array) -> Array:
    """sigma'(t) = 0 for t != 0; we take 0 at t = 0 as well (no gradient flows)."""
    return jnp.zeros_like(x)


def sigmoid(x: Array) -> Array:
    """sigma(x) = 1 / (1 + exp(-x)), evaluated through exp(-|x|) <= 1 so it never overflows.

    For x >= 0: 1 / (1 + e^{-x}); for x < 0: e^{x} / (1 + e^{x}). Both use e = exp(-|x|).
    """
    e = jnp.exp(-jnp.abs(x))
    return jnp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def d_sigmoid(x: Array) -> Array:
    """sigma'(x) = sigma(x) (1 - sigma(x))."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: Array) -> Array:
    """sigma(x) = tanh(x) = (1 - exp(-2x)) / (1 + exp(-2x))."""
    return jnp.tanh(x)


def d_tanh(x: Array) -> Array:
    """sigma'(x) = 1 - tanh(x)^2."""
    t = jnp.tanh(x)
    return 1.0 - t * t


def relu(x: Array) -> Array:
    """ReLU(x) = max(x, 0) (the digest, section 5)."""
    return jnp.where(x > 0, x, jnp.zeros_like(x))


def d_relu(x: Array) -> Array:
    """ReLU'(x) = 1 if x > 0 else 0; 0 at x = 0, the left derivative, as the digest chooses."""
    return jnp.where(x > 0, jnp.ones_like(x), jnp.zeros_like(x))


def leaky_relu(x: Array) -> Array:
    """LeakyReLU(x) = x if x > 0 else alpha x, with alpha = LEAKY_RELU_SLOPE = 0.01."""
    return jnp.where(x > 0, x, LEAKY_RELU_SLOPE * x)


def d_leaky_relu(x: Array) -> Array:
    """LeakyReLU'(x) = 1 if x > 0 else alpha (alpha at x = 0, the left derivative)."""
    return jnp.where(x > 0, jnp.ones_like(x), jnp.full_like(x, LEAKY_RELU_SLOPE))


def softplus(x: Array) -> Array:
    """softplus(x) = log(1 + e^x) = log(e^0 + e^x), evaluated as a stable log-add-exp.

    ``jnp.logaddexp`` equals max(x, 0) + log(1 + e^{-|x|}) (finite for any x) and, unlike
    that formula written out, has the exact derivative sigmoid(x) at x = 0 under ``jax.grad``.
    """
    return jnp.logaddexp(x, jnp.zeros_like(x))


def d_softplus(x: Array) -> Array:
    """softplus'(x) = sigmoid(x)."""
    return sigmoid(x)


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def gelu(x: Array) -> Array:
    """GELU(x) = x Phi(x), with Phi(x) = (1 + erf(x / sqrt 2)) / 2 the standard normal CDF.

    This is the exact form (Hendrycks & Gimpel, 2016), not the tanh approximation that
    ``jax.nn.gelu`` uses by default.
    """
    return x * 0.5 * (1.0 + erf(x * _INV_SQRT2))


def d_gelu(x: Array) -> Array:
    """GELU'(x) = Phi(x) + x phi(x), with phi(x) = exp(-x^2 / 2) / sqrt(2 pi)."""
    cdf = 0.5 * (1.0 + erf(x * _INV_SQRT2))
    pdf = _INV_SQRT_2PI * jnp.exp(-0.5 * x * x)
    return cdf + x * pdf


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(identity, d_identity),
    "heaviside": Activation(heaviside, d_heaviside),
    "sigmoid": Activation(sigmoid, d_sigmoid),
    "tanh": Activation(tanh, d_tanh),
    "relu": Activation(relu, d_relu),
    "leaky_relu": Activation(leaky_relu, d_leaky_relu),
    "softplus": Activation(softplus, d_softplus),
    "gelu": Activation(gelu, d_gelu),
}

#: Activations with a useful (non-zero) gradient, i.e. all but the perceptron's step.
DIFFERENTIABLE = tuple(n for n in ACTIVATIONS if n != "heaviside")


def get_activation(name: str) -> Activation:
    """Return the ``(f, df)`` pair registered under ``name``.

    Raises:
        ValueError: if ``name`` is not registered; the message lists the valid names.
    """
    check_choice(name, ACTIVATIONS, "activation")
    return ACTIVATIONS[name]
