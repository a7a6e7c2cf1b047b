"""Pooling over the spatial axes of channels-last examples ``(*spatial, c)``.

* ``MaxPool(window, stride)``: the largest value of each window, per channel;
* ``AvgPool(window, stride)``: the mean of each window, per channel;
* ``GlobalAvgPool()``: the mean over every spatial position, ``(*spatial, c) -> (c,)`` — with
  circular convolutions before it, a network invariant to circular shifts of its input.

Windows are "valid" (no padding): ``L_out = floor((L - window) / stride) + 1``; the stride
defaults to the window. Their hand-written backwards (how delta is routed back) are in
:mod:`funcnn.backprop.pool`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp

from funcnn.blocks.conv import as_tuple
from funcnn.blocks.dense import check_no_params

Array = jnp.ndarray


@dataclasses.dataclass(frozen=True)
class _Window:
    """Shared configuration of the windowed poolings (not a block by itself)."""

    window: int | tuple = 2
    stride: int | tuple | None = None

    has_params: ClassVar[bool] = False
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def __post_init__(self):
        w = self.window
        n = 1 if isinstance(w, int) else len(tuple(w))
        object.__setattr__(self, "window", as_tuple(w, n, "window"))
        stride = self.window if self.stride is None else self.stride
        object.__setattr__(self, "stride", as_tuple(stride, n, "stride"))

    @property
    def n_spatial(self) -> int:
        return len(self.window)

    def out_shape(self, shape) -> tuple[int, ...]:
        shape = tuple(shape)
        name = type(self).__name__
        if len(shape) != self.n_spatial + 1:
            raise ValueError(
                f"{name} with window {self.window} takes examples (*spatial[{self.n_spatial}], "
                f"channels); got {shape}."
            )
        out = []
        for n, w, s in zip(shape[:-1], self.window, self.stride):
            if n < w:
                raise ValueError(f"{name} window {self.window} is larger than the input {shape}.")
            out.append((n - w) // s + 1)
        return (*out, shape[-1])

    def init(self, key, dtype=jnp.float32) -> tuple:
        return ()

    def check_params(self, params, name: str = "params") -> None:
        check_no_params(params, type(self).__name__)

    def reduce(self, x: Array, init, op) -> Array:
        dims = (1, *self.window, 1)
        strides = (1, *self.stride, 1)
        return jax.lax.reduce_window(x, init, op, dims, strides, "VALID")


@dataclasses.dataclass(frozen=True)
class MaxPool(_Window):
    """``y[b, l, c] = max_{t < window} x[b, l * stride + t, c]``."""

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        return self.reduce(x, -jnp.inf, jax.lax.max)


@dataclasses.dataclass(frozen=True)
class AvgPool(_Window):
    """``y[b, l, c] = mean_{t < window} x[b, l * stride + t, c]``."""

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        return self.reduce(x, 0.0, jax.lax.add) / math.prod(self.window)


@dataclasses.dataclass(frozen=True)
class GlobalAvgPool:
    """``y[b, c] = mean over every spatial position of x[b, ..., c]``: ``(*spatial, c) -> (c,)``."""

    has_params: ClassVar[bool] = False
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def out_shape(self, shape) -> tuple[int, ...]:
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"GlobalAvgPool takes examples (*spatial, channels); got {shape}.")
        return (shape[-1],)

    def init(self, key, dtype=jnp.float32) -> tuple:
        return ()

    def check_params(self, params, name: str = "params") -> None:
        check_no_params(params, "GlobalAvgPool")

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        return jnp.mean(x, axis=tuple(range(1, x.ndim - 1)))
