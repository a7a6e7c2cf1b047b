"""Augmentations suggested by MNIST-1D's own generative process, drawn on device.

The ``mnist1d`` generator makes every sequence from one of ten templates: it pads it, scales
it by ``1 + 0.4 (u - 1/2)``, translates it *circularly* (``np.roll`` by up to 48 of its ~70
samples), adds correlated and white noise, shears it by a random linear ramp and subsamples
it to 40 points. :class:`Augment` draws fresh copies of a training batch along the same axes:

* ``shift``: a circular shift by ``U{-shift, ..., shift}`` positions (the translation);
* ``scale``: a factor ``1 + U(-scale, scale)`` (the amplitude);
* ``shear``: plus ``U(-shear, shear)`` times a ramp from ``-1/2`` to ``1/2`` (the shear);
* ``noise``: plus ``N(0, noise^2)`` per sample (the white noise).

One draw per example, from a key; the augmented batch has the input's shape and dtype. The
training engine applies it to every minibatch inside its scanned epoch, from a key derived
from the run's key and the step (``RunConfig(augment=Augment(...))``,
``funcnn train --augment``); the validation and test sets are never augmented.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from funcnn import checks

Array = jnp.ndarray


@dataclasses.dataclass(frozen=True)
class Augment:
    """Random circular shift, scale, shear and noise of sequences ``(batch, length[, c])``."""

    shift: int = 0
    scale: float = 0.0
    shear: float = 0.0
    noise: float = 0.0

    def __post_init__(self):
        if isinstance(self.shift, bool) or not isinstance(self.shift, int) or self.shift < 0:
            raise ValueError(f"shift must be a non-negative int (positions); got {self.shift!r}.")
        for name in ("scale", "shear", "noise"):
            object.__setattr__(self, name, checks.check_nonnegative(getattr(self, name), name))
        if self.scale >= 1:
            raise ValueError(
                f"scale must be < 1 (a factor 1 + U(-scale, scale)); got {self.scale}."
            )

    @property
    def active(self) -> bool:
        return bool(self.shift or self.scale or self.shear or self.noise)

    def to_config(self) -> dict:
        return dataclasses.asdict(self)

    def __call__(self, key, x: Array) -> Array:
        """A fresh random copy of the batch ``x: (batch, length)`` or ``(batch, length, c)``."""
        checks.check_rank(x, (2, 3), "x", "(batch, length) or (batch, length, channels)")
        if not self.active:
            return x
        B, L = x.shape[0], x.shape[1]
        k_shift, k_scale, k_shear, k_noise = jax.random.split(key, 4)
        expand = (B, 1) + (1,) * (x.ndim - 2)  # one draw per example, broadcast over the rest
        if self.shift:
            s = jax.random.randint(k_shift, (B,), -self.shift, self.shift + 1)
            idx = (jnp.arange(L)[None, :] - s[:, None]) % L  # y[l] = x[l - s]: np.roll by s
            x = jnp.take_along_axis(x, idx.reshape((B, L) + (1,) * (x.ndim - 2)), axis=1)
        if self.scale:
            u = jax.random.uniform(k_scale, expand, x.dtype, -self.scale, self.scale)
            x = x * (1.0 + u)
        if self.shear:
            u = jax.random.uniform(k_shear, expand, x.dtype, -self.shear, self.shear)
            ramp = jnp.linspace(-0.5, 0.5, L, dtype=x.dtype).reshape((1, L) + (1,) * (x.ndim - 2))
            x = x + u * ramp
        if self.noise:
            x = x + self.noise * jax.random.normal(k_noise, x.shape, x.dtype)
        return x
