"""funcnn.train.registry: models by name and their default recipes."""

import numpy as np
import pytest

from funcnn.data import Augment, Dataset
from funcnn.train import MODELS, RECIPES, RunConfig, build_model
from funcnn.train.registry import model_options

# The MNIST-1D recipe of the linear models (funcnn/train/registry.py): AdamW with decoupled
# weight decay, a cosine decay, autodiff gradients, no augmentation or smoothing.
MNIST1D = dict(
    optimizer="adamw",
    lr=7e-3,
    schedule="cosine",
    warmup_steps=0,
    weight_decay=0.05,
    momentum=0.9,
    l2=0.0,
    l1=0.0,
    clip_norm=None,
    epochs=50,
    batch_size=128,
    grad="autodiff",
    label_smoothing=0.0,
    augment=None,
)
# The convolutional recipe departs from it: a lower rate for longer, label smoothing, MNIST-1D's
# own augmentation (shift 8 of 40 samples, 20% scale, noise 0.05) and hand-written gradients.
CNN = dict(
    MNIST1D,
    lr=6e-3,
    epochs=60,
    label_smoothing=0.1,
    augment=Augment(shift=8, scale=0.2, noise=0.05),
    grad="manual",
)
# The recurrent recipe is the convolutional one with less weight decay and gradient clipping.
RECURRENT = dict(CNN, weight_decay=0.01, clip_norm=1.0)
RECURRENT_OPTIONS = {"hidden_size": 96, "chunk": 2, "bidirectional": True}
# The MLP's recipe (chosen by funcnn tune): the MNIST-1D recipe for 120 epochs with MNIST-1D's
# augmentation (and dropout 0.1, a model option).
MLP = dict(MNIST1D, epochs=120, augment=Augment(shift=8, scale=0.2, noise=0.05))
# Each model's recipe: its run settings and its default options.
RECIPE_TABLE = {
    "mlp": (MLP, {"hidden": (256, 256), "activation": "relu", "dropout": 0.1}),
    "logistic_regression": (MNIST1D, {}),
    "softmax_regression": (MNIST1D, {}),
    "linear_regression": (dict(MNIST1D, lr=10.0), {}),
    "cnn": (
        CNN,
        {
            "channels": (64, 64, 128, 128),
            "strides": (1, 2, 1, 2),
            "kernel_size": 5,
            "padding": "circular",
            "activation": "relu",
            "dropout": 0.2,
        },
    ),
    "gru": (RECURRENT, RECURRENT_OPTIONS),
    "rnn": (RECURRENT, RECURRENT_OPTIONS),
}

CLASSES = Dataset(np.zeros((6, 5), np.float32), np.arange(6) % 3, None, None, 3, "three")
BINARY = Dataset(np.zeros((6, 5), np.float32), np.arange(6) % 2, None, None, 2, "two")
REGRESSION = Dataset(np.zeros((6, 5), np.float32), np.zeros((6, 2)), None, None, None, "reg")
SEQUENCES = Dataset(np.zeros((6, 40), np.float32), np.arange(6) % 10, None, None, 10, "ten")


def test_every_model_has_a_recipe_for_its_options():
    assert list(RECIPES) == list(MODELS)
    for name, entry in MODELS.items():
        assert set(RECIPES[name].model) == set(entry.options), name
        RunConfig(**RECIPES[name].run)  # a valid configuration


def test_the_table_names_every_model():
    assert sorted(RECIPE_TABLE) == sorted(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_recipe_of_each_model(name):
    run, options = RECIPE_TABLE[name]
    assert dict(RECIPES[name].run) == run
    assert dict(RECIPES[name].model) == options
    assert model_options(name) == options


@pytest.mark.parametrize(
    "name,data,kind,output_shape",
    [
        ("mlp", CLASSES, "mlp", (3,)),
        ("mlp", REGRESSION, "mlp", (2,)),
        ("logistic_regression", CLASSES, "softmax_regression", (3,)),  # multinomial
        ("logistic_regression", BINARY, "logistic_regression", (1,)),
        ("softmax_regression", BINARY, "softmax_regression", (2,)),
        ("linear_regression", REGRESSION, "linear_regression", (2,)),
        ("cnn", SEQUENCES, "cnn", (10,)),
        ("gru", SEQUENCES, "gru", (10,)),
        ("rnn", SEQUENCES, "rnn", (10,)),
    ],
)
def test_models_are_built_for_the_data(name, data, kind, output_shape):
    model = build_model(name, data)
    example = np.shape(data.x_train)[1:]
    assert (model.kind, model.input_shape, model.output_shape) == (kind, example, output_shape)


def test_options_replace_the_recipes():
    net = build_model("mlp", CLASSES, {"hidden": [7], "dropout": 0.0})
    assert net.to_config()["sizes"] == [5, 7, 3] and not net.stochastic
    assert model_options("mlp", {"hidden": (7,)}) == {
        "hidden": (7,),
        "activation": "relu",
        "dropout": 0.1,
    }


@pytest.mark.parametrize(
    "name,data,options,match",
    [
        (
            "cnnx",
            CLASSES,
            None,
            "unknown model 'cnnx'; valid names are: cnn, gru, linear_regression, "
            "logistic_regression, mlp, rnn, softmax_regression",
        ),
        (
            "linear_regression",
            CLASSES,
            None,
            "model 'linear_regression' needs a regression dataset; three has 3 classes "
            r"\(try mlp, logistic_regression, softmax_regression, cnn, gru, rnn\)",
        ),
        (
            "gru",
            REGRESSION,
            None,
            r"model 'gru' needs a classification dataset; reg is regression "
            r"\(try mlp, linear_regression\)",
        ),
        ("gru", SEQUENCES, {"chunk": 3}, r"chunk \(3 samples per step\) must divide"),
        (
            "cnn",
            SEQUENCES,
            {"hidden": (8,)},
            r"model 'cnn' does not take the options \['hidden'\]; it takes: channels, strides, "
            "kernel_size, padding, activation, dropout",
        ),
        (
            "softmax_regression",
            REGRESSION,
            None,
            r"needs a classification dataset; reg is regression \(try mlp, linear_regression\)",
        ),
        ("mlp", CLASSES, {"hidden": ()}, "model 'mlp' needs at least one hidden layer"),
        (
            "logistic_regression",
            CLASSES,
            {"hidden": (8,)},
            r"model 'logistic_regression' does not take the options \['hidden'\]; it takes: none",
        ),
        ("mlp", CLASSES, {"width": 3}, r"it takes: hidden, activation, dropout"),
        (
            "mlp",
            Dataset(np.zeros((6, 5, 2)), np.arange(6) % 3, None, None, 3, "seq"),
            None,
            r"model 'mlp' takes flat examples \(n, d\); this dataset's examples have shape \(5, 2\)",
        ),
    ],
)
def test_bad_models_get_a_clear_error(name, data, options, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, data, options)
