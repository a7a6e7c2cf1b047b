"""Gradient-check cases of the convolutional blocks: every padding, stride and dilation of
the 1-D convolution with smooth and kinked activations, the poolings, flatten, a residual
block, a 2-D convolution and funcnn's CNN (``funcnn gradcheck --model cnn``). The layers of
the MNIST-1D paper's ConvBase (zero padding 1, stride 2) are a row of their own: the whole
25-channel network costs two minutes of float64 finite differences for nothing new."""

from __future__ import annotations

from funcnn.blocks import (
    Act,
    AvgPool,
    Conv,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    MaxPool,
    Reshape,
    Residual,
    serial,
)
from funcnn.cnn import cnn
from funcnn.gradcheck.case import Case

LENGTH = 12  # input sequence length of the small cases
SCE = "softmax_cross_entropy"


def conv_net(padding, stride: int, dilation: int, act: str):
    """Two convolutions (the first with the variant under test), flatten, dense."""
    first = Conv(1, 3, 3, stride, padding, dilation)
    blocks = [Reshape((LENGTH, 1)), first, Act(act), Conv(3, 2, 3, 1, padding), Act("tanh")]
    body = serial(*blocks, Flatten(), input_shape=(LENGTH,))
    return serial(*body.blocks, Dense(body.output_shape[0], 3), input_shape=(LENGTH,), kind="cnn")


def pooling_net():
    """Max and average pooling, a residual convolution, global pooling and dropout."""
    inner = serial(Conv(4, 4, 3, padding="circular"), Act("tanh"), input_shape=(2, 4))
    return serial(
        Reshape((LENGTH, 1)),
        Conv(1, 4, 3, padding="circular"),
        Act("relu"),
        MaxPool(2),
        Conv(4, 4, 3),
        Act("gelu"),
        AvgPool(3, 2),
        Residual(inner),
        GlobalAvgPool(),
        Dropout(0.3),
        Dense(4, 3),
        input_shape=(LENGTH,),
        kind="cnn",
    )


def conv2d_net():
    """A 2-D convolution over 6 x 5 images (stride and dilation per axis), pooling, dense."""
    return serial(
        Reshape((6, 5, 1)),
        Conv(1, 3, (3, 2), (1, 2), "same"),
        Act("tanh"),
        MaxPool((2, 1)),
        Conv(3, 2, (2, 2), 1, "circular"),
        Act("softplus"),
        Flatten(),
        Dense(18, 2),
        input_shape=(30,),
        kind="cnn2d",
    )


def conv_cases(model_case) -> tuple[Case, ...]:
    """The rows; ``model_case`` is :func:`funcnn.gradcheck.cases.model_case`."""
    rows = [
        model_case("cnn", f"conv[{pad},s{s},d{d}]", act, SCE, conv_net(pad, s, d, act))
        for pad, s, d, act in (
            ("valid", 1, 1, "relu"),
            ("same", 2, 1, "tanh"),
            ("circular", 1, 2, "relu"),
            ("circular", 2, 1, "leaky_relu"),
            ((2, 0), 2, 2, "sigmoid"),
            (1, 2, 1, "relu"),  # the MNIST-1D paper's ConvBase layers: zero padding 1, stride 2
        )
    ]
    rows.append(model_case("cnn", "pool+residual", "relu/gelu/tanh", SCE, pooling_net(),
                           dropout=True))  # fmt: skip
    rows.append(model_case("cnn", "conv2d", "tanh/softplus", "mse", conv2d_net()))
    small = cnn(LENGTH, 3, channels=(4, 6), strides=(1, 2), dropout=0.2)
    rows.append(model_case("cnn", "cnn", "relu", SCE, small, dropout=True))
    return tuple(rows)
