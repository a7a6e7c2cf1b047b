"""funcnn.layers: the dense layer, its absorbed-bias form, and inverted dropout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn.layers import dropout_mask


def test_dense_apply_is_x_w_plus_b(key):
    params = F.dense_init(key, 4, 3, b_init="normal")
    x = jax.random.normal(jax.random.fold_in(key, 1), (6, 4))
    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    expected = np.asarray(x, np.float64) @ w + b
    np.testing.assert_allclose(F.dense_apply(params, x), expected, rtol=1e-5, atol=1e-6)
    assert np.any(b != 0)  # the "normal" bias initializer was used


def test_absorbed_bias_gives_identical_outputs(key):
    params = F.dense_init(key, 4, 3, b_init="normal")
    x = jax.random.normal(jax.random.fold_in(key, 1), (6, 4))
    tilde = F.absorb_bias(params)
    assert tilde["w"].shape == (5, 3)
    np.testing.assert_array_equal(tilde["w"][-1], params["b"])
    np.testing.assert_allclose(
        F.dense_absorbed_apply(tilde, x), F.dense_apply(params, x), rtol=1e-6, atol=1e-6
    )
    back = F.split_bias(tilde)
    np.testing.assert_array_equal(back["w"], params["w"])
    np.testing.assert_array_equal(back["b"], params["b"])
    np.testing.assert_array_equal(F.append_ones(x)[:, -1], 1.0)


def test_absorbed_bias_rejects_wrong_feature_count(key):
    tilde = F.absorb_bias(F.dense_init(key, 4, 3))
    with pytest.raises(ValueError, match="must have 4 features"):
        F.dense_absorbed_apply(tilde, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match=r"params\['b'\] must have shape \(3,\); got \(4,\)"):
        F.absorb_bias({"w": jnp.ones((4, 3)), "b": jnp.ones(4)})


def test_dense_errors_name_the_argument(key):
    params = F.dense_init(key, 3, 4)
    with pytest.raises(ValueError, match="x has 4 features but the layer expects n_in = 3"):
        F.dense_apply(params, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match=r"x must have rank 2 .* add a batch axis with x\[None\]"):
        F.dense_apply(params, jnp.ones(3))
    with pytest.raises(ValueError, match="n_out must be a positive integer; got -1"):
        F.dense_init(key, 3, -1)


def test_dropout_is_the_identity_in_evaluation_and_masks_in_training(key):
    x = jnp.arange(1.0, 41.0).reshape(4, 10)
    np.testing.assert_array_equal(F.dropout(x, 0.5, key=key), x)
    np.testing.assert_array_equal(F.dropout(x, 0.0, train=True), x)
    out = F.dropout(x, 0.5, key=key, train=True)
    np.testing.assert_array_equal(out, x * dropout_mask(key, 0.5, x.shape))
    kept = np.asarray(out) != 0
    np.testing.assert_allclose(np.asarray(out)[kept], 2.0 * np.asarray(x)[kept])  # 1 / (1 - p)
    assert 0 < kept.sum() < x.size
    with pytest.raises(ValueError, match="dropout with train=True and rate > 0 needs key="):
        F.dropout(x, 0.5, train=True)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match=r"rate must be a drop probability in \[0, 1\)"):
        F.dropout(jnp.ones(3), rate, key=jax.random.key(0), train=True)
