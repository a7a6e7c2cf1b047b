"""Recurrent blocks over sequences ``(batch, time, features)``, unrolled with ``lax.scan``.

* ``RNN`` (Elman): ``h_t = tanh(x_t W_x + h_{t-1} W_h + b)``.
* ``GRU`` (Cho et al. 2014, the gates of Dive into Deep Learning, section 10.2)::

      z_t  = sigmoid(x_t W_xz + h_{t-1} W_hz + b_z)          update gate
      r_t  = sigmoid(x_t W_xr + h_{t-1} W_hr + b_r)          reset gate
      hh_t = tanh(x_t W_xh + (r_t o h_{t-1}) W_hh + b_h)       candidate state
      h_t  = z_t o h_{t-1} + (1 - z_t) o hh_t

  with the three gates' weights side by side: ``w_x = [W_xz | W_xr | W_xh]: (n_in, 3H)``,
  ``w_h = [W_hz | W_hr | W_hh]: (H, 3H)``, ``b = [b_z | b_r | b_h]: (3H,)``.
* ``Bidirectional(cell)``: the cell over the sequence and a second one over it reversed, their
  outputs concatenated (``2H`` features).

Options of both cells: ``return_sequences`` (all hidden states ``(time, H)``, else the last
``(H,)``), ``learn_h0`` (the initial state ``h_{-1}`` is a parameter ``"h0"``, else zeros),
and ``truncate=k`` — truncated backpropagation through time: the state entering steps
``k, 2k, ...`` is treated as a constant (``lax.stop_gradient``), so gradients flow back at most
to the start of their window of ``k`` steps. The outputs do not change; the gradient is the
exact gradient of that modified computation, not of the full recurrence. The hand-written BPTT
is in :mod:`funcnn.backprop.recurrent`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, NamedTuple

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import sigmoid
from funcnn.blocks.dense import Dense
from funcnn.blocks.serial import block_config

Array = jnp.ndarray


class Scan(NamedTuple):
    """The states of one pass, time-major."""

    h: Array  # (T + 1, B, H): h_{-1} = h0, h_0, ..., h_{T-1}
    gates: Array | None  # (T, B, 3H) [z, r, hh] of a GRU (None for the RNN or when not kept)


@dataclasses.dataclass(frozen=True)
class _Cell:
    """What the RNN and the GRU share: sizes, options, shapes, params, the scan."""

    n_in: int
    n_hidden: int
    return_sequences: bool = False
    learn_h0: bool = False
    truncate: int | None = None

    has_params: ClassVar[bool] = True
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False
    n_gates: ClassVar[int] = 1

    def __post_init__(self):
        object.__setattr__(self, "n_in", checks.check_positive_int(self.n_in, "n_in"))
        object.__setattr__(self, "n_hidden", checks.check_positive_int(self.n_hidden, "n_hidden"))
        if self.truncate is not None:
            if isinstance(self.truncate, bool) or not isinstance(self.truncate, int):
                raise ValueError(f"truncate must be None or an int >= 1; got {self.truncate!r}.")
            if self.truncate < 1:
                raise ValueError(
                    f"truncate (the truncation length of BPTT, in steps) must be >= 1; got "
                    f"{self.truncate}."
                )

    def out_shape(self, shape) -> tuple[int, ...]:
        shape = tuple(shape)
        name = type(self).__name__
        if len(shape) != 2 or shape[1] != self.n_in:
            raise ValueError(
                f"{name}({self.n_in}, {self.n_hidden}) takes sequences (time, {self.n_in}); "
                f"got {shape}."
            )
        if shape[0] < 1:
            raise ValueError(f"{name} needs a sequence of at least one step; got {shape}.")
        return (shape[0], self.n_hidden) if self.return_sequences else (self.n_hidden,)

    def init(self, key, dtype=jnp.float32) -> dict[str, Array]:
        """``w_x`` Xavier normal, ``w_h`` orthogonal per gate, ``b`` (and ``h0``) zero."""
        kx, kh = jax.random.split(key)
        H, G = self.n_hidden, self.n_gates
        w_x = Dense(self.n_in, G * H).init(kx, dtype)["w"]
        ortho = jax.nn.initializers.orthogonal()
        w_h = jnp.concatenate([ortho(k, (H, H), dtype) for k in jax.random.split(kh, G)], axis=1)
        params = {"w_x": w_x, "w_h": w_h, "b": jnp.zeros((G * H,), dtype)}
        if self.learn_h0:
            params["h0"] = jnp.zeros((H,), dtype)
        return params

    def param_shapes(self) -> dict[str, tuple]:
        H, G = self.n_hidden, self.n_gates
        shapes = {"w_x": (self.n_in, G * H), "w_h": (H, G * H), "b": (G * H,)}
        if self.learn_h0:
            shapes["h0"] = (H,)
        return shapes

    def check_params(self, params, name: str = "params") -> None:
        shapes = self.param_shapes()
        if not isinstance(params, dict) or set(params) != set(shapes):
            raise ValueError(
                f"{name} must be a dict with keys {sorted(shapes)}; got {params!r:.80}."
            )
        for leaf, shape in shapes.items():
            if tuple(params[leaf].shape) != shape:
                raise ValueError(
                    f"{name}['{leaf}'] must have shape {shape}; got {params[leaf].shape}."
                )

    def check_input(self, x: Array) -> None:
        checks.check_rank(x, 3, "x", f"(batch, time, {self.n_in}) for {type(self).__name__}")
        if x.shape[1] == 0:
            raise ValueError(
                f"x is an empty sequence (shape {x.shape}); at least one step is needed."
            )
        if x.shape[2] != self.n_in:
            raise ValueError(f"x must have {self.n_in} features per step; got shape {x.shape}.")

    def h_init(self, params, batch: int, dtype) -> Array:
        if self.learn_h0:
            return jnp.broadcast_to(params["h0"][None, :], (batch, self.n_hidden))
        return jnp.zeros((batch, self.n_hidden), dtype)

    def is_cut(self, t) -> Array:
        """Whether the state entering step ``t`` is a constant (truncated BPTT)."""
        if self.truncate is None:
            return jnp.zeros((), bool)
        return (t > 0) & (t % self.truncate == 0)

    def scan(self, params, x: Array, keep_gates: bool = False) -> Scan:
        """Every state of the pass over ``x: (B, T, n_in)``; ``x W_x + b`` for all steps is
        one matrix product before the recurrence."""
        self.check_params(params)
        self.check_input(x)
        xw = jnp.swapaxes(x @ params["w_x"] + params["b"][None, None, :], 0, 1)  # (T, B, G H)
        h0 = self.h_init(params, x.shape[0], x.dtype)

        def step(h_prev, inputs):
            xw_t, t = inputs
            h_prev = jnp.where(self.is_cut(t), jax.lax.stop_gradient(h_prev), h_prev)
            h, gates = self.cell(params["w_h"], h_prev, xw_t)
            return h, (h, gates if keep_gates else None)

        _, (hs, gates) = jax.lax.scan(step, h0, (xw, jnp.arange(x.shape[1])))
        return Scan(jnp.concatenate([h0[None], hs], axis=0), gates)

    def output(self, hs: Array) -> Array:
        """The block's output from the states ``(T + 1, B, H)``."""
        return jnp.swapaxes(hs[1:], 0, 1) if self.return_sequences else hs[-1]

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        """``(batch, time, n_in) -> (batch, time, H)`` or ``(batch, H)``."""
        return self.output(self.scan(params, x).h)


@dataclasses.dataclass(frozen=True)
class RNN(_Cell):
    """The Elman cell ``h_t = tanh(x_t W_x + h_{t-1} W_h + b)``; see the module docstring."""

    def cell(self, w_h: Array, h_prev: Array, xw_t: Array) -> tuple[Array, None]:
        return jnp.tanh(xw_t + h_prev @ w_h), None  # h_t = tanh(a_t)


@dataclasses.dataclass(frozen=True)
class GRU(_Cell):
    """The gated recurrent unit; see the module docstring for its four equations."""

    n_gates: ClassVar[int] = 3

    def cell(self, w_h: Array, h_prev: Array, xw_t: Array) -> tuple[Array, Array]:
        H = self.n_hidden
        zr = sigmoid(xw_t[:, : 2 * H] + h_prev @ w_h[:, : 2 * H])  # [z_t, r_t]
        z, r = zr[:, :H], zr[:, H:]
        hh = jnp.tanh(xw_t[:, 2 * H :] + (r * h_prev) @ w_h[:, 2 * H :])  # candidate hh_t
        h = z * h_prev + (1.0 - z) * hh  # h_t
        return h, jnp.concatenate([z, r, hh], axis=1)


@dataclasses.dataclass(frozen=True)
class Bidirectional:
    """``cell`` over the sequence and a copy over it reversed, outputs concatenated.

    Params ``{"fwd": ..., "bwd": ...}``; output ``(time, 2H)`` (the reversed pass's states put
    back in time order) or ``(2H,)`` (each direction's last state).
    """

    cell: _Cell

    has_params: ClassVar[bool] = True
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def __post_init__(self):
        if not isinstance(self.cell, _Cell):
            raise TypeError(f"Bidirectional needs an RNN or GRU cell; got {self.cell!r:.60}.")

    def out_shape(self, shape) -> tuple[int, ...]:
        out = self.cell.out_shape(shape)
        return (*out[:-1], 2 * out[-1])

    def init(self, key, dtype=jnp.float32) -> dict:
        kf, kb = jax.random.split(key)
        return {"fwd": self.cell.init(kf, dtype), "bwd": self.cell.init(kb, dtype)}

    def check_params(self, params, name: str = "params") -> None:
        if not isinstance(params, dict) or set(params) != {"fwd", "bwd"}:
            raise ValueError(
                f'{name} must be a dict with keys "bwd" and "fwd"; got {params!r:.80}.'
            )
        self.cell.check_params(params["fwd"], f"{name}['fwd']")
        self.cell.check_params(params["bwd"], f"{name}['bwd']")

    def combine(self, out_f: Array, out_b: Array) -> Array:
        if self.cell.return_sequences:
            out_b = out_b[:, ::-1]  # the reversed pass's state at step t, in time order
        return jnp.concatenate([out_f, out_b], axis=-1)

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        out_f = self.cell.apply(params["fwd"], x)
        out_b = self.cell.apply(params["bwd"], x[:, ::-1])
        return self.combine(out_f, out_b)

    def to_config(self) -> dict:
        return {"type": "Bidirectional", "cell": block_config(self.cell)}
