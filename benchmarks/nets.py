"""The convolutional and recurrent workloads that conv_rnn and gru_peers share.

* :class:`CNNSpec`: ``funcnn.cnn(40, 10, channels=(64, 64, 128, 128), strides=(1, 2, 1, 2),
  kernel_size=5, padding="circular", dropout=0.2)``, a :class:`funcnn.blocks.Serial`.
  :meth:`CNNSpec.scaled` multiplies every layer's channels (the CNN scaling sweep);
  :func:`cnn_step_flops` counts a training step's multiply-adds.
* :class:`GRUSpec`: ``serial(Reshape((20, 2)), Bidirectional(GRU(2, 96)), Dense(192, 10),
  input_shape=(40,), kind="gru")``: the 40 features read as 20 steps of 2, both directions'
  last states concatenated, then a dense classifier.

Both train on MNIST-1D-shaped batches (40 features, 10 classes; standard normal inputs and
uniform labels from NumPy's ``default_rng(seed)``, put on the device first:
:func:`sequence_batch`) with the softmax cross-entropy (batch mean) and
``optax.adam(1e-3, eps=1e-8)``, the loss and optimizer of the MLP workloads; the CNN's step
against other libraries and its scaling sweep train with the CNN recipe's AdamW instead
(:func:`cnn_adamw`).

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

    def scaled(self, multiplier: float) -> CNNSpec:
        """This network with every layer's channels times ``multiplier`` (rounded, >= 1)."""
        channels = tuple(max(1, round(c * multiplier)) for c in self.channels)
        return dataclasses.replace(self, channels=channels)

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

CNN_FLOPS_FORMULA = (
    "2 * batch * (3 * MACs - MACs of the first convolution): every multiply-add of the "
    "convolutions and the dense layer (L_out k c_in c_out each) forward, for the weight "
    "gradients and for the input gradients, but the first layer's input gradient (a step never "
    "computes it); ReLU, pooling, padding and the optimizer's elementwise passes not counted"
)


def cnn_layer_macs(spec: CNNSpec) -> list[int]:
    """Multiply-adds of each convolution and of the dense layer for one example."""
    model = spec.model()
    macs = []
    for block, shape in zip(model.blocks, model.shapes):
        if type(block).__name__ == "Conv":
            length_out = block.out_shape(shape)[0]
            macs.append(length_out * block.kernel_size[0] * block.in_channels * block.out_channels)
    macs.append(spec.channels[-1] * spec.n_classes)
    return macs


def cnn_step_flops(spec: CNNSpec, batch: int) -> int:
    """FLOPs of one training step of ``spec`` on ``batch`` examples (:data:`CNN_FLOPS_FORMULA`)."""
    macs = cnn_layer_macs(spec)
    return 2 * int(batch) * (3 * sum(macs) - macs[0])


def cnn_adamw() -> dict[str, float]:
    """``{"lr", "weight_decay"}`` of the CNN recipe's AdamW
    (``funcnn.train.registry.RECIPES["cnn"].run``; the decay on weights only, scaled by the
    learning rate as in optax and PyTorch), held constant: a schedule changes a scalar, not the
    step's work."""
    from funcnn.train.registry import RECIPES

    run = RECIPES["cnn"].run
    if run["optimizer"] != "adamw":
        raise ValueError(f"the CNN recipe's optimizer is {run['optimizer']!r}, not adamw.")
    return {"lr": float(run["lr"]), "weight_decay": float(run["weight_decay"])}


def net_workload(
    spec: Spec, batch: int, dtype: str, *, optimizer: str = "adam", lr: float = ADAM_LR, **extra
) -> dict[str, Any]:
    """The record workload of ``spec`` trained with the softmax cross-entropy and
    ``optimizer`` (default Adam; ``extra`` adds e.g. its ``weight_decay``)."""
    return workload(
        spec.kind,
        spec.sizes,
        batch,
        dtype,
        **spec.describe(),
        loss=LOSS,
        optimizer=optimizer,
        lr=lr,
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
