"""Convolutional networks for sequences (the lecture's taxonomy: ``W_j`` circulant).

* :func:`cnn`: a stack of convolutions (circular by default) with ReLU, global average
  pooling and a dense classifier. With circular padding and global average pooling the
  network's output does not change when its input is rolled circularly (exactly, for stride-1
  layers; up to the stride's phase otherwise), the symmetry of MNIST-1D, whose generator
  translates every template circularly before subsampling it.
* :func:`mnist1d_convbase`: the MNIST-1D paper's CNN (three 1-D convolutions of 25
  channels, kernel 5 then 3, stride 2, zero padding 1, then a dense layer: 5,210 parameters).

Both return a :class:`funcnn.blocks.Serial` on examples of shape ``(input_length,)`` (a
single-channel sequence, as MNIST-1D stores them): the first block reshapes it to
``(input_length, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from funcnn import checks
from funcnn.activations import ACTIVATIONS
from funcnn.blocks import Act, Conv, Dense, Dropout, Flatten, GlobalAvgPool, Reshape, Serial


def cnn(
    input_length: int = 40,
    n_classes: int = 10,
    *,
    channels: Sequence[int] = (64, 64, 128, 128),
    strides: Sequence[int] = (1, 2, 1, 2),
    kernel_size: int = 5,
    padding: str = "circular",
    activation: str = "relu",
    dropout: float = 0.0,
) -> Serial:
    """``Reshape -> [Conv(k, stride) -> sigma] x len(channels) -> GlobalAvgPool -> [Dropout]
    -> Dense(n_classes)``: logits for ``n_classes`` classes.

    Args:
        input_length: the length of one input sequence (one channel).
        channels: output channels of each convolution.
        strides: the stride of each convolution (same length as ``channels``).
        kernel_size: the kernel of every convolution.
        padding: "circular" (default), "same" or "valid".
        activation: after every convolution.
        dropout: drop probability before the classifier (0: no dropout block).

    Example:
        >>> import jax, funcnn
        >>> net = funcnn.cnn(40, 10, channels=(8, 16), strides=(1, 2))
        >>> net.shapes
        ((40,), (40, 1), (40, 8), (40, 8), (20, 16), (20, 16), (16,), (10,))
        >>> net.apply(net.init(jax.random.key(0)), jax.numpy.ones((3, 40))).shape
        (3, 10)
    """
    input_length = checks.check_positive_int(input_length, "input_length")
    n_classes = checks.check_positive_int(n_classes, "n_classes")
    channels = checks.check_sizes(channels, "channels", min_len=1)
    strides = checks.check_sizes(strides, "strides", min_len=1)
    if len(strides) != len(channels):
        raise ValueError(
            f"strides must give one stride per convolution ({len(channels)}); got {strides}."
        )
    checks.check_choice(activation, ACTIVATIONS, "activation")
    blocks: list = [Reshape((input_length, 1))]
    c_in = 1
    for c, s in zip(channels, strides):
        blocks += [Conv(c_in, c, kernel_size, s, padding), Act(activation)]
        c_in = c
    blocks.append(GlobalAvgPool())
    if checks.check_rate(dropout, "dropout") > 0:
        blocks.append(Dropout(dropout))
    blocks.append(Dense(c_in, n_classes))
    return Serial(tuple(blocks), (input_length,), "cnn")


def mnist1d_convbase(input_length: int = 40, n_classes: int = 10) -> Serial:
    """The MNIST-1D paper's CNN ("ConvBase"): ``Conv(1, 25, k=5, s=2, pad 1) -> ReLU ->
    Conv(25, 25, k=3, s=2, pad 1) -> ReLU -> Conv(25, 25, k=3, s=2, pad 1) -> ReLU ->
    Flatten -> Dense(10)``; 5,210 parameters on sequences of length 40.

    Example:
        >>> import funcnn
        >>> net = funcnn.mnist1d_convbase()
        >>> net.output_shape, funcnn.param_count(net.init(__import__("jax").random.key(0)))
        ((10,), 5210)
    """
    blocks = [
        Reshape((input_length, 1)),
        Conv(1, 25, 5, 2, 1),
        Act("relu"),
        Conv(25, 25, 3, 2, 1),
        Act("relu"),
        Conv(25, 25, 3, 2, 1),
        Act("relu"),
        Flatten(),
    ]
    n_flat = Serial(tuple(blocks), (input_length,)).output_shape[0]
    return Serial((*blocks, Dense(n_flat, n_classes)), (input_length,), "cnn_convbase")
