"""Blocks that change an example's layout, or route around other blocks.

* ``Reshape(shape)``: one example to ``shape`` (e.g. a sequence ``(40,)`` to ``(40, 1)``, one
  channel, before a convolution);
* ``Flatten()``: ``(*spatial, c) -> (prod(spatial) c,)``, before a dense layer;
* ``Residual(f)``: ``x + f(x)`` (He et al. 2016), ``f`` any block whose output has its input's
  shape; its backward adds the skip's gradient to ``f``'s: ``dx = dout + f'(x)^T dout``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax.numpy as jnp

from funcnn import checks
from funcnn.blocks.dense import check_no_params
from funcnn.blocks.serial import block_config

Array = jnp.ndarray


@dataclasses.dataclass(frozen=True)
class Reshape:
    """Each example reshaped to ``shape`` (the same number of entries)."""

    shape: tuple

    has_params: ClassVar[bool] = False
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def __post_init__(self):
        shape = tuple(checks.check_positive_int(n, "shape[i]") for n in self.shape)
        object.__setattr__(self, "shape", shape)

    def out_shape(self, shape) -> tuple[int, ...]:
        if math.prod(shape) != math.prod(self.shape):
            raise ValueError(
                f"Reshape to {self.shape} needs examples of {math.prod(self.shape)} entries; "
                f"got shape {tuple(shape)}."
            )
        return self.shape

    def init(self, key, dtype=jnp.float32) -> tuple:
        return ()

    def check_params(self, params, name: str = "params") -> None:
        check_no_params(params, "Reshape")

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        return x.reshape((x.shape[0], *self.shape))


@dataclasses.dataclass(frozen=True)
class Flatten:
    """``(batch, *shape) -> (batch, prod(shape))``."""

    has_params: ClassVar[bool] = False
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def out_shape(self, shape) -> tuple[int, ...]:
        return (math.prod(shape),)

    def init(self, key, dtype=jnp.float32) -> tuple:
        return ()

    def check_params(self, params, name: str = "params") -> None:
        check_no_params(params, "Flatten")

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        return x.reshape(x.shape[0], -1)


@dataclasses.dataclass(frozen=True)
class Residual:
    """``x + f(x)`` for a block ``f`` (typically a :class:`funcnn.blocks.Serial`) that keeps
    the example shape. Its params are ``f``'s; its random draws are ``f``'s."""

    f: object

    def __post_init__(self):
        if not all(hasattr(self.f, m) for m in ("init", "apply", "out_shape")):
            raise TypeError(f"Residual needs a block f; got {type(self.f).__name__}.")

    @property
    def has_params(self) -> bool:
        return self.f.has_params

    @property
    def consumes_key(self) -> bool:
        return self.f.consumes_key

    @property
    def stochastic(self) -> bool:
        return self.f.stochastic

    def out_shape(self, shape) -> tuple[int, ...]:
        out = tuple(self.f.out_shape(shape))
        if out != tuple(shape):
            raise ValueError(
                f"Residual needs f to keep the example shape {tuple(shape)}; f gives {out}."
            )
        return out

    def init(self, key, dtype=jnp.float32):
        return self.f.init(key, dtype)

    def check_params(self, params, name: str = "params") -> None:
        self.f.check_params(params, name)

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        return x + self.f.apply(params, x, key=key, train=train)

    def to_config(self) -> dict:
        return {"type": "Residual", "f": block_config(self.f)}
