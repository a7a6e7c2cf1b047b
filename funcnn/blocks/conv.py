"""Convolution: the lecture's layer whose ``W_j`` is circulant (seed 003), channels-last.

A convolution of ``x: (batch, *spatial, c_in)`` with a kernel ``w: (*k, c_in, c_out)`` is

    a[b, l, o] = sum_{t, c} x_pad[b, l * s + t * d, c] w[t, c, o] + bias[o]

(one spatial axis written; 2-D sums over two taps ``t = (t1, t2)``), with stride ``s``,
dilation ``d`` and ``x_pad`` the input padded by the block's ``padding``:

* ``"valid"``: no padding, ``L_out = floor((L - d (k - 1) - 1) / s) + 1``;
* ``"same"``: zeros, ``d (k - 1)`` in all (the smaller half first), so ``L_out = ceil(L / s)``;
* ``"circular"``: the input wrapped around (a torus), same sizes as "same" — with stride 1
  the layer is exactly a circulant matrix times the flattened input
  (:func:`funcnn.blocks.conv_matrix.conv_matrix` builds it);
* an int ``p`` or a pair ``(lo, hi)``: that many zeros on each side (every spatial axis).

The weight is the same at every position (weight sharing): ``prod(k) c_in c_out + c_out``
parameters instead of the ``(L c_in)(L_out c_out) + L_out c_out`` of the dense layer it equals.
The forward runs through ``jax.lax.conv_general_dilated``; the hand-written backward is in
:mod:`funcnn.backprop.conv`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.blocks.dense import Dense
from funcnn.initializers import INITIALIZERS

Array = jnp.ndarray

PADDINGS = ("valid", "same", "circular")


def as_tuple(value, n: int, name: str) -> tuple[int, ...]:
    """``value`` (an int, or a tuple of ``n`` ints) as ``n`` positive ints."""
    values = (value,) * n if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        values = tuple(values)
    except TypeError:
        raise TypeError(
            f"{name} must be a positive int or a tuple of {n}; got {value!r}."
        ) from None
    if len(values) != n:
        raise ValueError(f"{name} must give {n} value(s), one per spatial axis; got {value!r}.")
    return tuple(checks.check_positive_int(v, name) for v in values)


@dataclasses.dataclass(frozen=True)
class Conv:
    """A convolution over ``len(kernel_size)`` spatial axes (1 or 2), channels-last.

    Attributes:
        in_channels, out_channels: ``c_in``, ``c_out``.
        kernel_size: ``k`` (an int: 1-D) or ``(k1, k2)`` (2-D).
        stride, dilation: ints or one per spatial axis.
        padding: "valid", "same", "circular", or zeros ``p`` / ``(lo, hi)`` (module docstring).
        initializer: weight scheme, applied to the ``(prod(k) c_in, c_out)`` matrix of the
            im2col form (so fan-in is ``prod(k) c_in``); default He normal; bias zero.
    """

    in_channels: int
    out_channels: int
    kernel_size: int | tuple = 3
    stride: int | tuple = 1
    padding: str | int | tuple = "same"
    dilation: int | tuple = 1
    initializer: str = "he_normal"

    has_params: ClassVar[bool] = True
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def __post_init__(self):
        k = self.kernel_size
        n = 1 if isinstance(k, int) else len(tuple(k))
        if n not in (1, 2):
            raise ValueError(f"kernel_size must be an int (1-D) or a pair (2-D); got {k!r}.")
        setattr_ = object.__setattr__
        setattr_(self, "in_channels", checks.check_positive_int(self.in_channels, "in_channels"))
        setattr_(self, "out_channels", checks.check_positive_int(self.out_channels, "out_channels"))
        setattr_(self, "kernel_size", as_tuple(k, n, "kernel_size"))
        setattr_(self, "stride", as_tuple(self.stride, n, "stride"))
        setattr_(self, "dilation", as_tuple(self.dilation, n, "dilation"))
        setattr_(self, "padding", self._check_padding(self.padding))
        checks.check_choice(self.initializer, INITIALIZERS, "initializer")

    @staticmethod
    def _check_padding(padding):
        if isinstance(padding, str):
            return checks.check_choice(padding, PADDINGS, "padding")
        pair = (padding, padding) if isinstance(padding, int) else padding
        try:
            lo, hi = pair
        except (TypeError, ValueError):
            raise ValueError(
                f"padding must be one of {', '.join(PADDINGS)}, an int or a pair (lo, hi); "
                f"got {padding!r}."
            ) from None
        for v in (lo, hi):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"padding must be non-negative ints; got {padding!r}.")
        return (lo, hi)

    # -- shapes --------------------------------------------------------------------------------

    @property
    def n_spatial(self) -> int:
        return len(self.kernel_size)

    def pads(self, axis: int) -> tuple[int, int]:
        """``(lo, hi)`` padding of spatial axis ``axis``."""
        if self.padding == "valid":
            return (0, 0)
        if isinstance(self.padding, tuple):
            return self.padding
        span = self.dilation[axis] * (self.kernel_size[axis] - 1)
        return (span // 2, span - span // 2)

    def out_length(self, length: int, axis: int) -> int:
        lo, hi = self.pads(axis)
        span = self.dilation[axis] * (self.kernel_size[axis] - 1)
        n = length + lo + hi - span
        if n < 1:
            raise ValueError(
                f"Conv with kernel {self.kernel_size}, dilation {self.dilation} and padding "
                f"{self.padding!r} needs spatial size >= {span + 1 - lo - hi} on axis {axis}; "
                f"got {length}."
            )
        return (n - 1) // self.stride[axis] + 1

    def out_shape(self, shape) -> tuple[int, ...]:
        shape = tuple(shape)
        want = f"(*spatial[{self.n_spatial}], {self.in_channels})"
        if len(shape) != self.n_spatial + 1 or shape[-1] != self.in_channels:
            raise ValueError(f"Conv takes examples of shape {want}; got {shape}.")
        if self.padding == "circular" and any(
            max(self.pads(i)) > n for i, n in enumerate(shape[:-1])
        ):
            raise ValueError(
                f"circular padding {[self.pads(i) for i in range(self.n_spatial)]} wraps more "
                f"than once around examples of spatial size {shape[:-1]}: use a smaller "
                "kernel or dilation."
            )
        spatial = tuple(self.out_length(n, i) for i, n in enumerate(shape[:-1]))
        return (*spatial, self.out_channels)

    @property
    def dimension_numbers(self) -> tuple[str, str, str]:
        """Channels-last layouts for ``conv_general_dilated``: NWC/WIO/NWC or NHWC/HWIO/NHWC."""
        s = "W" if self.n_spatial == 1 else "HW"
        return (f"N{s}C", f"{s}IO", f"N{s}C")

    # -- params ----------------------------------------------------------------------------------

    def init(self, key, dtype=jnp.float32) -> dict[str, Array]:
        """``{"w": (*k, c_in, c_out), "b": (c_out,)}``; ``w`` drawn as the im2col matrix."""
        fan_in = math.prod(self.kernel_size) * self.in_channels
        flat = Dense(fan_in, self.out_channels, self.initializer).init(key, dtype)
        w = flat["w"].reshape((*self.kernel_size, self.in_channels, self.out_channels))
        return {"w": w, "b": flat["b"]}

    def check_params(self, params, name: str = "params") -> None:
        if not isinstance(params, dict) or set(params) != {"w", "b"}:
            raise ValueError(f'{name} must be a dict with keys "w" and "b"; got {params!r:.80}.')
        shapes = {
            "w": (*self.kernel_size, self.in_channels, self.out_channels),
            "b": (self.out_channels,),
        }
        for leaf, shape in shapes.items():
            if tuple(params[leaf].shape) != shape:
                raise ValueError(
                    f"{name}['{leaf}'] must have shape {shape}; got {params[leaf].shape}."
                )

    # -- apply -----------------------------------------------------------------------------------

    def pad(self, x: Array) -> Array:
        """``x_pad``: zeros, or the wrapped-around input for "circular" (spatial axes only)."""
        widths = [(0, 0)] + [self.pads(i) for i in range(self.n_spatial)] + [(0, 0)]
        if all(w == (0, 0) for w in widths):
            return x
        return jnp.pad(x, widths, mode="wrap" if self.padding == "circular" else "constant")

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        """``(batch, *spatial, c_in) -> (batch, *spatial_out, c_out)``."""
        a = jax.lax.conv_general_dilated(
            self.pad(x),
            params["w"],
            window_strides=self.stride,
            padding="VALID",
            rhs_dilation=self.dilation,
            dimension_numbers=self.dimension_numbers,
        )
        return a + params["b"].reshape((1,) * (a.ndim - 1) + (-1,))
