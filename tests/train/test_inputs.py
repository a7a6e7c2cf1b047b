"""funcnn.train.inputs: the loss a model and a dataset call for, validated splits, and a
model known only through its interface (inputs of any rank)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn
from funcnn.data import Dataset
from funcnn.train import evaluate, fit, infer_loss, prepare_targets
from tests.train.tiny import DATA, NET, TINY, X_TE, X_TR, Y_TE, Y_TR


class FlatDense:
    """A model of sequences ``(n, 3, 2)``: flattened, then one dense layer to 3 logits. It has
    exactly the interface the engine relies on, and nothing else."""

    input_shape = (3, 2)
    output_shape = (3,)
    stochastic = False
    kind = "flat_dense"

    def init(self, key, dtype=jnp.float32):
        return {"w": 0.1 * jax.random.normal(key, (6, 3), dtype), "b": jnp.zeros((3,), dtype)}

    def apply(self, params, x, *, key=None, train=False):
        return x.reshape(x.shape[0], 6) @ params["w"] + params["b"][None, :]

    def to_config(self):
        return {"kind": self.kind, "input_shape": list(self.input_shape)}


FLAT = FlatDense()


def _sequences(x):  # (n, 4) -> (n, 3, 2): the blobs padded with two noise-free zeros
    return np.concatenate([x, np.zeros((len(x), 2), np.float32)], axis=1).reshape(-1, 3, 2)


def test_any_model_with_the_interface_trains_on_rank_3_inputs():
    data = Dataset(_sequences(X_TR), Y_TR, _sequences(X_TE), Y_TE, 3, "seq")
    r = fit(FLAT, data, **{**TINY, "epochs": 6, "lr": 0.2})
    assert r.history["train_loss"][-1] < 0.6 * r.history["train_loss"][0]
    assert r.config["model"] == FLAT.to_config()
    m = evaluate(
        FLAT, r.params, jnp.asarray(data.x_test), jnp.asarray(Y_TE), "softmax_cross_entropy"
    )
    assert float(m["accuracy"]) == r.final["test_accuracy"]
    with pytest.raises(
        ValueError, match=r"x_train must have shape \(n, 3, 2\) for this model; got \(48, 4\)"
    ):
        fit(FLAT, DATA, **TINY)


def test_loss_inference():
    assert infer_loss(NET, 3) == "softmax_cross_entropy"
    assert infer_loss(funcnn.logistic_regression(4), 2) == "binary_cross_entropy"
    assert infer_loss(funcnn.softmax_regression(4, 2), 2) == "softmax_cross_entropy"
    assert infer_loss(funcnn.linear_regression(4), None) == "mse"
    with pytest.raises(ValueError, match="cannot be trained by gradient descent"):
        infer_loss(funcnn.perceptron(4), 2)
    with pytest.raises(ValueError, match="the model has 3 outputs but the dataset has 5 classes"):
        infer_loss(NET, 5)


def test_targets_take_the_form_of_their_loss():
    labels = prepare_targets(np.array([0, 2, 1]), "softmax_cross_entropy", 3, jnp.float32)
    assert labels.dtype == jnp.int32 and labels.tolist() == [0, 2, 1]
    column = prepare_targets(np.array([1.0, 0.0]), "binary_cross_entropy", (1,), jnp.float32)
    assert column.shape == (2, 1) and column.dtype == jnp.float32
    seq = prepare_targets(np.zeros((2, 5, 3)), "mse", (5, 3), jnp.float32)
    assert seq.shape == (2, 5, 3)
    with pytest.raises(ValueError, match=r"y has shape \(2,\) but the model has 3 outputs"):
        prepare_targets(np.zeros(2), "mse", 3, jnp.float32)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 5, 3\) for loss 'mse'"):
        prepare_targets(np.zeros((2, 5, 4)), "mse", (5, 3), jnp.float32)
    with pytest.raises(ValueError, match=r"y must have shape \(n, 3\) for loss 'softmax"):
        prepare_targets(np.zeros((2, 4)), "softmax_cross_entropy", 3, jnp.float32)


@pytest.mark.parametrize(
    "data,model,exc,match",
    [
        (
            Dataset(X_TR, Y_TR[:40], X_TE, Y_TE, 3, "b"),
            NET,
            ValueError,
            "x_train and y_train must have the same length; got 48 and 40",
        ),
        (DATA, funcnn.mlp([5, 8, 3]), ValueError, r"x_train must have shape \(n, 5\)"),
        (
            Dataset(X_TR, Y_TR + 5, X_TE, Y_TE, 3, "b"),
            NET,
            ValueError,
            r"y_train must lie in \[0, 2\]; found label 7",
        ),
        (
            Dataset(X_TR, Y_TR.astype(np.float32), X_TE, Y_TE, 3, "b"),
            NET,
            TypeError,
            "y_train must hold integer class labels",
        ),
        (
            Dataset(X_TR, Y_TR, np.full_like(X_TE, np.nan), Y_TE, 3, "b"),
            NET,
            ValueError,
            "x_test contains NaN",
        ),
        (Dataset(X_TR[:0], Y_TR[:0], X_TE, Y_TE, 3, "b"), NET, ValueError, "training set is empty"),
        (
            Dataset(X_TR, Y_TR, X_TE, Y_TE, 3, "b", X_TE, None),
            NET,
            ValueError,
            "dataset has only one of x_val and y_val",
        ),
        ((X_TR, Y_TR), NET, TypeError, "dataset must be a funcnn.data.Dataset"),
        ("no_such_set", NET, ValueError, "unknown dataset 'no_such_set'"),
    ],
)
def test_fit_bad_data(data, model, exc, match):
    with pytest.raises(exc, match=match):
        fit(model, data, **TINY)


def test_batch_size_and_early_stopping_are_checked_against_the_data():
    with pytest.raises(
        ValueError, match=r"batch_size must be at most the number of examples n = 48; got 49"
    ):
        fit(NET, DATA, **{**TINY, "batch_size": 49})
    with pytest.raises(ValueError, match="early_stopping_patience needs a validation set"):
        fit(NET, DATA, **TINY, early_stopping_patience=3)
