"""Parameter initializers. Each is ``init(key, shape, dtype=float32) -> array``.

For a weight of shape ``(n_in, n_out)`` (our row-batch layout, ``x @ w``), fan_in = n_in and
fan_out = n_out. The schemes and their variances (the digest, section 5, "Parameter
Initialization"):

=================  ================================  ======================================
name               distribution                      variance
=================  ================================  ======================================
normal             N(0, std^2), std = 0.01 default   std^2
uniform            U(-scale, scale), 0.05 default    scale^2 / 3
xavier_normal      N(0, 2 / (fan_in + fan_out))      2 / (fan_in + fan_out)  (Glorot, 2010)
xavier_uniform     U(-a, a), a = sqrt(6/(in+out))    2 / (fan_in + fan_out)
he_normal          N(0, 2 / fan_in)                  2 / fan_in              (He, 2015)
he_uniform         U(-a, a), a = sqrt(6 / fan_in)    2 / fan_in
zeros              0                                 0
=================  ================================  ======================================

He variance is for ReLU layers; Xavier keeps the variance of activations and gradients equal
for activations that are linear around 0 (tanh, sigmoid up to a scale, identity).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from funcnn.checks import check_choice

Initializer = Callable[..., jnp.ndarray]


def _fans(shape) -> tuple[int, int]:
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[0] * receptive, shape[1] * receptive


def _check_key(key) -> None:
    if not isinstance(key, jax.Array) or not (
        jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32
    ):
        raise TypeError(
            f"key must be a jax.random key (jax.random.key(seed)); got {type(key).__name__}."
        )


def normal(key, shape, dtype=jnp.float32, *, std: float = 0.01) -> jnp.ndarray:
    """w ~ N(0, std^2)."""
    _check_key(key)
    if not std > 0:
        raise ValueError(f"std must be positive; got {std!r}.")
    return std * jax.random.normal(key, shape, dtype)


def uniform(key, shape, dtype=jnp.float32, *, scale: float = 0.05) -> jnp.ndarray:
    """w ~ U(-scale, scale)."""
    _check_key(key)
    if not scale > 0:
        raise ValueError(f"scale must be positive; got {scale!r}.")
    return jax.random.uniform(key, shape, dtype, minval=-scale, maxval=scale)


def xavier_normal(key, shape, dtype=jnp.float32) -> jnp.ndarray:
    """w ~ N(0, 2 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(shape)
    return normal(key, shape, dtype, std=math.sqrt(2.0 / (fan_in + fan_out)))


def xavier_uniform(key, shape, dtype=jnp.float32) -> jnp.ndarray:
    """w ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _fans(shape)
    return uniform(key, shape, dtype, scale=math.sqrt(6.0 / (fan_in + fan_out)))


def he_normal(key, shape, dtype=jnp.float32) -> jnp.ndarray:
    """w ~ N(0, 2 / fan_in) (He et al., 2015), for ReLU layers."""
    fan_in, _ = _fans(shape)
    return normal(key, shape, dtype, std=math.sqrt(2.0 / fan_in))


def he_uniform(key, shape, dtype=jnp.float32) -> jnp.ndarray:
    """w ~ U(-a, a), a = sqrt(6 / fan_in) (He et al., 2015)."""
    fan_in, _ = _fans(shape)
    return uniform(key, shape, dtype, scale=math.sqrt(6.0 / fan_in))


def zeros(key, shape, dtype=jnp.float32) -> jnp.ndarray:
    """w = 0 (biases; never for the weights of a hidden layer, which would stay symmetric)."""
    return jnp.zeros(shape, dtype)


INITIALIZERS: dict[str, Initializer] = {
    "normal": normal,
    "uniform": uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "zeros": zeros,
}


def get_initializer(name: str, **options) -> Initializer:
    """Look up an initializer by name, binding options such as ``std`` or ``scale``.

    Raises:
        ValueError: unknown name (the valid names are listed) or an option the scheme lacks.
    """
    check_choice(name, INITIALIZERS, "initializer")
    fn = INITIALIZERS[name]
    if options:
        allowed = {"normal": {"std"}, "uniform": {"scale"}}.get(name, set())
        extra = set(options) - allowed
        if extra:
            raise ValueError(
                f"initializer {name!r} takes no option(s) {sorted(extra)}; "
                f"it accepts {sorted(allowed) or 'none'}."
            )
        fn = functools.partial(fn, **options)
    return fn
