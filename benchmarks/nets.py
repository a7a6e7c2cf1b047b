"""The convolutional and recurrent workloads that conv_rnn and gru_peers share.

* :class:`CNNSpec`: ``funcnn.cnn(40, 10, channels=(64, 64, 128, 128), strides=(1, 2, 1, 2),
  kernel_size=5, padding="circular", dropout=0.2)``, a :class:`funcnn.blocks.Serial`.
* :class:`GRUSpec`: ``serial(Reshape((20, 2)), Bidirectional(GRU(2, 96)), Dense(192, 10),
  input_shape=(40,), kind="gru")``: the 40 features read as 20 steps of 2, both directions'
  last states concatenated, then a dense classifier.

Both train on MNIST-1D-shaped batches (40 features, 10 classes; standard normal inputs and
uniform labels from NumPy's ``default_rng(seed)``, put on the device first:
:func:`sequence_batch`) with the softmax cross-entropy (batch mean) and
``optax.adam(1e-3, eps=1e-8)``, the loss and optimizer of the MLP workloads.

funcnn's GRU (Cho et al. 2014) applies the reset gate *before* the hidden matmul and has one
bias per gate (:mod:`funcnn.blocks.recurrent`)::

    [z_t, r_t] = sigmoid(x_t [W_xz | W_xr] + h_{t-1} [W_hz | W_hr] + [b_z | b_r])
    hh_t       = tanh(x_t W_xh + (r_t o h_{t-1}) W_hh + b_h)
    h_t        = z_t o h_{t-1} + (1 - z_t) o hh_t

with ``w_x: (n_in, 3H)``, ``w_h: (H, 3H)``, ``b: (3H,)`` in gate order ``[z, r, hh]``.
PyTorch's ``nn.GRU`` and Flax's ``GRUCell`` apply the reset gate after the matmul
(``r o (h W_hh + b_hn)``) with a second bias: other values, so the peers write this cell from
their primitives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from benchmarks.records import workload
from benchmarks.workloads import ADAM_LR, jnp_dtype, mlp_batch

LOSS = "softmax_cross_entropy"


@dataclasses.dataclass(frozen=True)
class CNNSpec:
    """``funcnn.cnn`` on sequences of ``input_length`` features (one channel)."""

    input_length: int = 40
    n_classes: int = 10
    channels: tuple[int, ...] = (64, 64, 128, 128)
    strides: tuple[int, ...] = (1, 2, 1, 2)
    kernel_size: int = 5
    padding: str = "circular"
    dropout: float = 0.2

    kind = "cnn"

    def model(self):
        import funcnn

        return funcnn.cnn(
            self.input_length,
            self.n_classes,
            channels=self.channels,
            strides=self.strides,
            kernel_size=self.kernel_size,
            padding=self.padding,
            dropout=self.dropout,
        )

    @property
    def sizes(self) -> list[int]:
        return [self.input_length, *self.channels, self.n_classes]

    def describe(self) -> dict[str, Any]:
        """The workload fields beyond model and sizes."""
        return {
            "channels": list(self.channels),
            "strides": list(self.strides),
            "kernel_size": self.kernel_size,
            "padding": self.padding,
            "dropout": self.dropout,
        }


@dataclasses.dataclass(frozen=True)
class GRUSpec:
    """A bidirectional GRU over ``steps`` steps of ``n_in`` features, then a dense layer."""

    steps: int = 20
    n_in: int = 2
    hidden: int = 96
    n_classes: int = 10

    kind = "gru"

    @property
    def input_length(self) -> int:
        return self.steps * self.n_in

    def model(self):
        from funcnn.blocks import GRU, Bidirectional, Dense, Reshape, serial

        return serial(
            Reshape((self.steps, self.n_in)),
            Bidirectional(GRU(self.n_in, self.hidden)),
            Dense(2 * self.hidden, self.n_classes),
            input_shape=(self.input_length,),
            kind="gru",
        )

    @property
    def sizes(self) -> list[int]:
        return [self.input_length, 2 * self.hidden, self.n_classes]

    def describe(self) -> dict[str, Any]:
        return {
            "sequence": [self.steps, self.n_in],
            "hidden": self.hidden,
            "bidirectional": True,
            "cell": "funcnn GRU: reset gate before the hidden matmul, one bias per gate",
        }


Spec = CNNSpec | GRUSpec


def net_workload(spec: Spec, batch: int, dtype: str, **extra) -> dict[str, Any]:
    """The record workload of ``spec`` trained with the softmax cross-entropy and Adam."""
    return workload(
        spec.kind,
        spec.sizes,
        batch,
        dtype,
        **spec.describe(),
        loss=LOSS,
        optimizer="adam",
        lr=ADAM_LR,
        **extra,
    )


def sequence_batch(spec: Spec, n: int, dtype: str = "float32", seed: int = 0):
    """``n`` MNIST-1D-shaped examples on the device: ``x (n, input_length)``, ``y (n,)``."""
    return mlp_batch((spec.input_length, spec.n_classes), n, dtype, seed)


def reference_init(spec: Spec, dtype: str = "float32", seed: int = 0):
    """funcnn's initial parameters of ``spec.model()`` as NumPy arrays (every contender
    starts from them)."""
    import jax

    params = spec.model().init(jax.random.key(seed), dtype=jnp_dtype(dtype))
    return jax.tree.map(np.asarray, params)
