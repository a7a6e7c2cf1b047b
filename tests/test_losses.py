"""Losses against hand-computed values; stability; penalties over chosen leaves."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F


def test_mse_has_half_factor_and_batch_mean():
    y_hat = jnp.array([[1.0, 2.0], [3.0, 5.0]])
    y = jnp.array([[0.0, 2.0], [1.0, 1.0]])
    # (1/2) * (1/2) * ((1 + 0) + (4 + 16)) = 5.25
    assert float(F.mse(y_hat, y)) == pytest.approx(5.25)


def test_sum_squared_error_sums_everything():
    y_hat = jnp.array([[1.0, 2.0], [3.0, 5.0]])
    y = jnp.array([[0.0, 2.0], [1.0, 1.0]])
    assert float(F.sum_squared_error(y_hat, y)) == pytest.approx(21.0)


def test_softmax_cross_entropy_hand_computed():
    logits = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    labels = jnp.array([2, 0])
    lse0 = np.log(np.exp(1) + np.exp(2) + np.exp(3))
    expected = ((lse0 - 3.0) + np.log(3.0)) / 2
    assert float(F.softmax_cross_entropy(logits, labels)) == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_integer_labels_equal_one_hot(key):
    logits = jax.random.normal(key, (7, 5))
    labels = jax.random.randint(jax.random.fold_in(key, 1), (7,), 0, 5)
    a = F.softmax_cross_entropy(logits, labels)
    b = F.softmax_cross_entropy(logits, F.one_hot(labels, 5))
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_cross_entropy_with_soft_targets_matches_formula(key):
    logits = jax.random.normal(key, (4, 3))
    targets = F.softmax(jax.random.normal(jax.random.fold_in(key, 2), (4, 3)))
    ref = -np.mean(np.sum(np.asarray(targets) * np.asarray(F.log_softmax(logits)), axis=1))
    np.testing.assert_allclose(F.softmax_cross_entropy(logits, targets), ref, rtol=1e-6)


def test_cross_entropy_finite_at_extreme_logits():
    logits = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    loss = F.softmax_cross_entropy(logits, jnp.array([1, 0]))
    # Row 0: lse = 1e4, picked -1e4 -> 2e4. Row 1: lse = 1e4 + log 2, picked -1e4 -> 2e4 + log 2.
    assert float(loss) == pytest.approx((2e4 + 2e4 + np.log(2)) / 2, rel=1e-6)
    g = jax.grad(F.softmax_cross_entropy)(logits, jnp.array([1, 0]))
    assert bool(jnp.all(jnp.isfinite(g)))


def test_binary_cross_entropy_matches_direct_formula(key):
    logits = jax.random.normal(key, (6, 1)) * 3
    y = (jax.random.uniform(jax.random.fold_in(key, 3), (6, 1)) > 0.5).astype(jnp.float32)
    p = 1 / (1 + np.exp(-np.asarray(logits, np.float64)))
    yn = np.asarray(y, np.float64)
    ref = np.mean(-(yn * np.log(p) + (1 - yn) * np.log(1 - p)))
    np.testing.assert_allclose(F.binary_cross_entropy(logits, y), ref, rtol=1e-5)


def test_binary_cross_entropy_finite_at_extreme_logits():
    logits = jnp.array([[1e4], [-1e4], [1e4], [-1e4]])
    y = jnp.array([[1.0], [0.0], [0.0], [1.0]])
    assert float(F.binary_cross_entropy(logits, y)) == pytest.approx((0 + 0 + 1e4 + 1e4) / 4)


def test_penalties_cover_weights_not_biases():
    params = [
        {"w": jnp.array([[1.0, -2.0]]), "b": jnp.array([10.0, 10.0])},
        {"w": jnp.array([[3.0], [0.0]]), "b": jnp.array([5.0])},
    ]
    assert float(F.l2_penalty(params)) == pytest.approx(0.5 * (1 + 4 + 9))
    assert float(F.l1_penalty(params)) == pytest.approx(1 + 2 + 3)
    everything = lambda path, leaf: True
    assert float(F.l1_penalty(params, select=everything)) == pytest.approx(6 + 20 + 5)


def test_penalty_that_selects_nothing_is_an_error():
    with pytest.raises(ValueError, match="matched no leaf"):
        F.l2_penalty({"b": jnp.ones(3)})


def test_get_loss_lists_valid_names():
    assert F.get_loss("mse") is F.mse
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*binary_cross_entropy.*mse"):
        F.get_loss("hinge")
