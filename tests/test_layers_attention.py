"""Dense layers, the absorbed-bias form, and the attention-pooling family."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F


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


@pytest.fixture(scope="module")
def nw_data():
    k = jax.random.key(11)
    keys = jnp.sort(5 * jax.random.uniform(k, (30,)))
    values = 2 * jnp.sin(keys) + keys**0.8
    queries = jnp.linspace(0.0, 4.9, 9)
    return queries, keys, values


def _check_convex(weights):
    w = np.asarray(weights)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)


def test_attention_weights_are_convex(nw_data):
    q, k, v = nw_data
    for fn in (F.average_pooling, F.nadaraya_watson):
        out, w = fn(q, k, v, return_weights=True)
        _check_convex(w)
        assert out.shape == q.shape
        np.testing.assert_allclose(out, F.attention_pool(w, v), rtol=1e-6)
    out, w = F.parametric_nw_apply({"w": jnp.asarray(3.0)}, q, k, v, return_weights=True)
    _check_convex(w)
    qs = jax.random.normal(jax.random.key(1), (2, 4, 8))
    ks = jax.random.normal(jax.random.key(2), (2, 6, 8))
    vs = jax.random.normal(jax.random.key(3), (2, 6, 5))
    out, w = F.dot_product_attention(qs, ks, vs, return_weights=True)
    _check_convex(w)
    assert out.shape == (2, 4, 5)


def test_nadaraya_watson_formula(nw_data):
    q, k, v = nw_data
    qn, kn, vn = (np.asarray(a, np.float64) for a in nw_data)
    kern = np.exp(-((qn[:, None] - kn[None, :]) ** 2) / 2)
    expected = (kern / kern.sum(1, keepdims=True)) @ vn
    np.testing.assert_allclose(F.nadaraya_watson(q, k, v), expected, rtol=1e-5)
    np.testing.assert_allclose(
        F.parametric_nw_apply({"w": jnp.asarray(1.0)}, q, k, v), expected, rtol=1e-5
    )


def test_wide_kernel_is_average_pooling(nw_data):
    q, k, v = nw_data
    wide = F.parametric_nw_apply({"w": jnp.asarray(1e-4)}, q, k, v)
    np.testing.assert_allclose(wide, F.average_pooling(q, k, v), rtol=1e-5)
    np.testing.assert_allclose(F.average_pooling(q, k, v), jnp.full(q.shape, v.mean()), rtol=1e-6)


def test_narrow_kernel_returns_nearest_key_value(nw_data):
    q, k, v = nw_data
    narrow = F.parametric_nw_apply({"w": jnp.asarray(1e3)}, q, k, v)
    nearest = np.argmin(np.abs(np.asarray(q)[:, None] - np.asarray(k)[None, :]), axis=1)
    np.testing.assert_allclose(narrow, np.asarray(v)[nearest], rtol=1e-5)


def test_parametric_init_is_deterministic(key):
    a = F.parametric_nw_init(key)
    assert a["w"].shape == ()
    assert 0.0 <= float(a["w"]) < 1.0
    assert float(a["w"]) == float(F.parametric_nw_init(key)["w"])


def test_dot_product_attention_formula(key):
    q = jax.random.normal(key, (3, 4))
    k = jax.random.normal(jax.random.fold_in(key, 1), (5, 4))
    v = jax.random.normal(jax.random.fold_in(key, 2), (5, 2))
    s = np.asarray(q, np.float64) @ np.asarray(k, np.float64).T / 2.0
    w = np.exp(s - s.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(
        F.dot_product_attention(q, k, v), w @ np.asarray(v), rtol=1e-5, atol=1e-6
    )


def test_masked_positions_get_zero_weight(key):
    q = jax.random.normal(key, (2, 3, 4))
    k = jax.random.normal(jax.random.fold_in(key, 1), (2, 5, 4))
    v = jax.random.normal(jax.random.fold_in(key, 2), (2, 5, 6))
    out, w = F.dot_product_attention(q, k, v, valid_lens=jnp.array([2, 4]), return_weights=True)
    np.testing.assert_array_equal(w[0, :, 2:], 0.0)
    np.testing.assert_array_equal(w[1, :, 4:], 0.0)
    _check_convex(w)
    # Attending to the first 2 keys equals attention over the truncated database.
    np.testing.assert_allclose(
        out[0], F.dot_product_attention(q[0], k[0, :2], v[0, :2]), rtol=1e-5, atol=1e-6
    )
    mask = jnp.array([[True, False, True, False, True]] * 3)
    out_m, w_m = F.dot_product_attention(q[0], k[0], v[0], mask=mask, return_weights=True)
    np.testing.assert_array_equal(w_m[:, ~np.asarray(mask[0])], 0.0)
    _check_convex(w_m)
    # A query with every key masked gets zero weights and a zero output, not NaN.
    out0, w0 = F.dot_product_attention(
        q[0], k[0], v[0], valid_lens=jnp.array(0), return_weights=True
    )
    np.testing.assert_array_equal(w0, 0.0)
    np.testing.assert_array_equal(out0, 0.0)


def test_attention_shape_errors(nw_data):
    q, k, v = nw_data
    with pytest.raises(ValueError, match="values must have one entry per key"):
        F.nadaraya_watson(q, k, v[:-1])
    with pytest.raises(ValueError, match="keys must have shape"):
        F.dot_product_attention(jnp.ones((3, 4)), jnp.ones((5, 3)), jnp.ones((5, 2)))
    with pytest.raises(ValueError, match="mask must have shape"):
        F.dot_product_attention(
            jnp.ones((3, 4)), jnp.ones((5, 4)), jnp.ones((5, 2)), mask=jnp.ones((3, 4), bool)
        )
    with pytest.raises(TypeError, match="mask must be boolean"):
        F.dot_product_attention(
            jnp.ones((3, 4)), jnp.ones((5, 4)), jnp.ones((5, 2)), mask=jnp.ones((3, 5))
        )
