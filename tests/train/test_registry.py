"""funcnn.train.registry: models by name and their default recipes."""

import numpy as np
import pytest

from funcnn.data import Dataset
from funcnn.train import MODELS, RECIPES, RunConfig, build_model
from funcnn.train.registry import model_options

# The MNIST-1D recipe every model trains with by default (funcnn/train/registry.py).
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
)

CLASSES = Dataset(np.zeros((6, 5), np.float32), np.arange(6) % 3, None, None, 3, "three")
BINARY = Dataset(np.zeros((6, 5), np.float32), np.arange(6) % 2, None, None, 2, "two")
REGRESSION = Dataset(np.zeros((6, 5), np.float32), np.zeros((6, 2)), None, None, None, "reg")


def test_every_model_has_a_recipe_for_its_options():
    assert list(RECIPES) == list(MODELS)
    for name, entry in MODELS.items():
        assert set(RECIPES[name].model) == set(entry.options), name
        RunConfig(**RECIPES[name].run)  # a valid configuration


@pytest.mark.parametrize("name", sorted(set(MODELS) - {"mlp"}))  # mlp: tests/train/test_tune.py
def test_the_recipes_are_the_mnist1d_recipe(name):
    assert dict(RECIPES[name].run) == MNIST1D


@pytest.mark.parametrize(
    "name,data,kind,output_shape",
    [
        ("mlp", CLASSES, "mlp", (3,)),
        ("mlp", REGRESSION, "mlp", (2,)),
        ("logistic_regression", CLASSES, "softmax_regression", (3,)),  # multinomial
        ("logistic_regression", BINARY, "logistic_regression", (1,)),
        ("softmax_regression", BINARY, "softmax_regression", (2,)),
        ("linear_regression", REGRESSION, "linear_regression", (2,)),
    ],
)
def test_models_are_built_for_the_data(name, data, kind, output_shape):
    model = build_model(name, data)
    assert model.kind == kind and model.input_shape == (5,) and model.output_shape == output_shape


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
        ("cnn", CLASSES, None, "unknown model 'cnn'; valid names are: linear_regression"),
        (
            "linear_regression",
            CLASSES,
            None,
            "model 'linear_regression' needs a regression dataset; three has 3 classes "
            r"\(try mlp, logistic_regression, softmax_regression\)",
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
