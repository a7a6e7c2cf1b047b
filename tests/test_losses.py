"""funcnn.losses: values against hand-computed ones, stability at extreme logits, penalties over
chosen leaves, and the errors for inputs that would otherwise broadcast or turn into NaN."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from tests.helpers import draws


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


def test_cross_entropy_integer_labels_equal_one_hot():
    d = draws(1, jnp.float32)
    logits, labels = d.normal((7, 5)), d.randint((7,), 5)
    a = F.softmax_cross_entropy(logits, labels)
    b = F.softmax_cross_entropy(logits, F.one_hot(labels, 5))
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_cross_entropy_with_soft_targets_matches_formula():
    d = draws(2, jnp.float32)
    logits, targets = d.normal((4, 3)), F.softmax(d.normal((4, 3)))
    ref = -np.mean(np.sum(np.asarray(targets) * np.asarray(F.log_softmax(logits)), axis=1))
    np.testing.assert_allclose(F.softmax_cross_entropy(logits, targets), ref, rtol=1e-6)


def test_cross_entropy_finite_at_extreme_logits():
    logits = jnp.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    loss = F.softmax_cross_entropy(logits, jnp.array([1, 0]))
    # Row 0: lse = 1e4, picked -1e4 -> 2e4. Row 1: lse = 1e4 + log 2, picked -1e4 -> 2e4 + log 2.
    assert float(loss) == pytest.approx((2e4 + 2e4 + np.log(2)) / 2, rel=1e-6)
    g = jax.grad(F.softmax_cross_entropy)(logits, jnp.array([1, 0]))
    assert bool(jnp.all(jnp.isfinite(g)))


def test_binary_cross_entropy_matches_direct_formula():
    d = draws(3, jnp.float32)
    logits, y = d.normal((6, 1), 3.0), jnp.asarray(d.bernoulli((6, 1)), jnp.float32)
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


# --- errors -------------------------------------------------------------------------------------


def test_logits_of_the_wrong_rank():
    with pytest.raises(ValueError, match=r"logits must have rank 2"):
        F.softmax_cross_entropy(jnp.ones(3), jnp.array([0, 1, 2]))


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
    with pytest.raises(ValueError, match=r"same shape"):
        F.softmax_cross_entropy(jnp.ones((2, 3)), jnp.array([0.0, 1.0]))


def test_empty_batch():
    with pytest.raises(ValueError, match="y_hat is an empty batch"):
        F.mse(jnp.ones((0, 1)), jnp.ones((0, 1)))


def test_unknown_loss_name():
    with pytest.raises(ValueError, match="unknown loss 'l2'; valid names are"):
        F.get_loss("l2")


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
