"""Every bad-input case of the core gets an error that names the argument and the expectation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F

NET = F.mlp([3, 4, 2], "relu")
PARAMS = NET.init(jax.random.key(0))


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"x must have rank 2 \(batch, 3\).*got shape \(3,\)"):
        NET.apply(PARAMS, jnp.ones(3))
    with pytest.raises(ValueError, match=r"logits must have rank 2"):
        F.softmax_cross_entropy(jnp.ones(3), jnp.array([0, 1, 2]))


def test_wrong_feature_size():
    with pytest.raises(
        ValueError, match=r"x must have shape \(batch, 3\) for this mlp; got \(2, 4\)"
    ):
        NET.apply(PARAMS, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="x has 4 features but the layer expects n_in = 3"):
        F.dense_apply(PARAMS[0], jnp.ones((2, 4)))


def test_params_of_another_model():
    with pytest.raises(ValueError, match=r"params\[1\]\['w'\] must have shape \(4, 2\)"):
        NET.apply(F.mlp([3, 4, 5]).init(jax.random.key(0)), jnp.ones((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"params must be a list of 2 entries, one per block with parameters \(Dense, Dense\)",
    ):
        NET.apply(PARAMS[:1], jnp.ones((2, 3)))


def test_batch_sizes_disagree():
    with pytest.raises(
        ValueError,
        match=r"y_hat and y must have the same batch size; got y_hat.shape\[0\] = 3 and y.shape\[0\] = 2",
    ):
        F.mse(jnp.ones((3, 1)), jnp.ones((2, 1)))
    with pytest.raises(ValueError, match="logits and labels must have the same batch size"):
        F.softmax_cross_entropy(jnp.ones((3, 2)), jnp.array([0, 1]))


def test_no_silent_broadcast_between_predictions_and_targets():
    with pytest.raises(ValueError, match=r"must have the same shape \(nothing is broadcast\)"):
        F.mse(jnp.ones((3, 1)), jnp.ones((3,)))
    with pytest.raises(ValueError, match="same shape"):
        F.binary_cross_entropy(jnp.ones((3, 1)), jnp.ones((3, 2)))


def test_labels_out_of_range_or_not_integer():
    with pytest.raises(
        ValueError, match=r"labels must lie in \[0, 1\] for 2 classes; found label 2"
    ):
        F.softmax_cross_entropy(jnp.ones((2, 2)), jnp.array([0, 2]))
    with pytest.raises(ValueError, match="found label -1"):
        F.one_hot(jnp.array([-1, 0]), 3)
    with pytest.raises(TypeError, match="labels must hold integer class labels; got dtype float32"):
        F.one_hot(jnp.array([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match=r"same shape"):
        F.softmax_cross_entropy(jnp.ones((2, 3)), jnp.array([0.0, 1.0]))


def test_empty_batch():
    with pytest.raises(ValueError, match="x is an empty batch"):
        NET.apply(PARAMS, jnp.ones((0, 3)))
    with pytest.raises(ValueError, match="y_hat is an empty batch"):
        F.mse(jnp.ones((0, 1)), jnp.ones((0, 1)))


def test_unknown_names():
    with pytest.raises(
        ValueError, match="unknown activation 'relux'; valid names are: gelu, heaviside, identity"
    ):
        F.mlp([3, 4, 2], "relux")
    with pytest.raises(
        ValueError, match="unknown initializer 'glorot'; valid names are: he_normal"
    ):
        F.mlp([3, 4, 2], initializer="glorot")
    with pytest.raises(ValueError, match="unknown loss 'l2'; valid names are"):
        F.get_loss("l2")


def test_non_positive_sizes():
    with pytest.raises(ValueError, match=r"sizes\[1\] must be a positive integer; got 0"):
        F.mlp([3, 0, 2])
    with pytest.raises(ValueError, match="n_out must be a positive integer; got -1"):
        F.dense_init(jax.random.key(0), 3, -1)
    with pytest.raises(ValueError, match="sizes must list at least 2 layer sizes"):
        F.mlp([3])
    with pytest.raises(ValueError, match="n_classes must be a positive integer; got 2.5"):
        F.one_hot(jnp.array([0]), 2.5)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"dropout\[0\] must be a drop probability in \[0, 1\)"):
        F.mlp([3, 4, 2], dropout=rate)
    with pytest.raises(ValueError, match=r"rate must be a drop probability in \[0, 1\)"):
        F.dropout(jnp.ones(3), rate, key=jax.random.key(0), train=True)


def test_wrong_number_of_per_layer_settings():
    with pytest.raises(ValueError, match="activations must name one activation per hidden layer"):
        F.mlp([3, 4, 4, 2], ["relu"])
    with pytest.raises(ValueError, match="dropout must give one rate per hidden layer"):
        F.mlp([3, 4, 4, 2], dropout=[0.1])


def test_integer_inputs_are_rejected_not_cast():
    with pytest.raises(TypeError, match="x must have a floating dtype; got int32"):
        NET.apply(PARAMS, jnp.ones((2, 3), jnp.int32))


def test_key_must_be_a_jax_key():
    with pytest.raises(TypeError, match="key must be a jax.random.key"):
        NET.init(0)


def test_check_finite_eagerly():
    bad = jnp.array([[1.0], [jnp.nan]])
    assert np.isnan(float(F.mse(bad, jnp.ones((2, 1)))))  # off by default: the caller decides
    with pytest.raises(ValueError, match="y_hat contains NaN or infinite values"):
        F.mse(bad, jnp.ones((2, 1)), check_finite=True)
    with pytest.raises(ValueError, match="logits contains NaN or infinite values"):
        F.softmax_cross_entropy(jnp.array([[jnp.inf, 0.0]]), jnp.array([0]), check_finite=True)


def test_check_finite_under_jit_fails_the_call():
    loss = jax.jit(lambda a, b: F.binary_cross_entropy(a, b, check_finite=True))
    assert np.isfinite(float(loss(jnp.ones((2, 1)), jnp.ones((2, 1)))))
    with pytest.raises(Exception, match="logits contains NaN or infinite values"):
        float(loss(jnp.array([[1.0], [jnp.inf]]), jnp.ones((2, 1))))
