"""funcnn: the fundamentals of deep learning as pure JAX functions over parameter pytrees."""

from funcnn import activations, attention, blocks, initializers, layers, losses, models, norms, ops
from funcnn.activations import ACTIVATIONS, Activation, get_activation, sigmoid
from funcnn.attention import (
    attention_pool,
    average_pooling,
    dot_product_attention,
    gaussian_kernel_weights,
    nadaraya_watson,
    parametric_nw_apply,
    parametric_nw_init,
    sequence_mask,
)
from funcnn.blocks import Act, Dense, Dropout, Serial, serial
from funcnn.blocks.conv_matrix import conv_matrix
from funcnn.cnn import cnn, mnist1d_convbase
from funcnn.initializers import INITIALIZERS, get_initializer
from funcnn.layers import (
    absorb_bias,
    append_ones,
    dense_absorbed_apply,
    dense_apply,
    dense_init,
    dropout,
    split_bias,
)
from funcnn.losses import (
    LOSSES,
    binary_cross_entropy,
    get_loss,
    l1_penalty,
    l2_penalty,
    mse,
    softmax_cross_entropy,
    sum_squared_error,
    weights_only,
)
from funcnn.models import (
    MLP,
    MODELS,
    deep_linear,
    linear_regression,
    logistic_regression,
    mlp,
    perceptron,
    perceptron_epoch,
    perceptron_update,
    single_neuron,
    softmax_regression,
)
from funcnn.norms import frobenius, l1, l2, lp
from funcnn.ops import log_softmax, mlp_param_count, one_hot, param_count, softmax
from funcnn.rnn import mnist1d_gru, recurrent

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "Act",
    "Activation",
    "Dense",
    "Dropout",
    "Serial",
    "INITIALIZERS",
    "LOSSES",
    "MLP",
    "MODELS",
    "absorb_bias",
    "activations",
    "append_ones",
    "attention",
    "attention_pool",
    "average_pooling",
    "binary_cross_entropy",
    "blocks",
    "cnn",
    "conv_matrix",
    "deep_linear",
    "dense_absorbed_apply",
    "dense_apply",
    "dense_init",
    "dot_product_attention",
    "dropout",
    "frobenius",
    "gaussian_kernel_weights",
    "get_activation",
    "get_initializer",
    "get_loss",
    "initializers",
    "l1",
    "l1_penalty",
    "l2",
    "l2_penalty",
    "layers",
    "linear_regression",
    "log_softmax",
    "logistic_regression",
    "losses",
    "lp",
    "mlp",
    "mlp_param_count",
    "mnist1d_convbase",
    "mnist1d_gru",
    "models",
    "mse",
    "nadaraya_watson",
    "norms",
    "one_hot",
    "ops",
    "param_count",
    "parametric_nw_apply",
    "parametric_nw_init",
    "perceptron",
    "perceptron_epoch",
    "perceptron_update",
    "recurrent",
    "sequence_mask",
    "serial",
    "sigmoid",
    "single_neuron",
    "softmax",
    "softmax_cross_entropy",
    "softmax_regression",
    "split_bias",
    "sum_squared_error",
    "weights_only",
]

# The heavier parts load on first use (``funcnn.train`` imports orbax and optax's schedules;
# ``funcnn.data`` may import scikit-learn and mnist1d): ``funcnn.train.fit`` works without an
# explicit ``import funcnn.train``.
_LAZY_SUBMODULES = ("backprop", "data", "gradcheck", "layerwise", "optimizers", "train")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"funcnn.{name}")
    raise AttributeError(f"module 'funcnn' has no attribute {name!r}")
