"""funcnn.attention: the attention-pooling family against independent numpy computations of the
digest's formulas (kernels, softmax weights, weighted sums), masks and valid lengths."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from tests.helpers import draws, once


@pytest.fixture(scope="module")
def nw_data():
    keys = np.sort(draws(11, jnp.float32).uniform((30,), 0.0, 5.0))
    values = 2 * np.sin(keys) + keys**0.8
    queries = np.linspace(0.0, 4.9, 9)
    return tuple(jnp.asarray(a, jnp.float32) for a in (queries, keys, values))


def _np(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def _softmax_rows(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _check_convex(weights):
    w = np.asarray(weights)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)


def test_pooling_weights_and_outputs_match_the_formulas(nw_data):
    q, k, v = nw_data
    d = draws(1, jnp.float32)
    qs, ks, vs = d.normal((2, 4, 8)), d.normal((2, 6, 8)), d.normal((2, 6, 5))

    def everything(q, k, v, qs, ks, vs):
        return {
            "average": F.average_pooling(q, k, v, return_weights=True),
            "nadaraya_watson": F.nadaraya_watson(q, k, v, return_weights=True),
            "parametric": F.parametric_nw_apply(
                {"w": jnp.asarray(3.0)}, q, k, v, return_weights=True
            ),
            "dot_product": F.dot_product_attention(qs, ks, vs, return_weights=True),
        }

    r = once(everything, q, k, v, qs, ks, vs)
    qn, kn, vn, qsn, ksn, vsn = _np(q, k, v, qs, ks, vs)
    diff = qn[:, None] - kn[None, :]
    expected = {
        "average": np.full((9, 30), 1 / 30),
        "nadaraya_watson": _softmax_rows(-(diff**2) / 2),
        "parametric": _softmax_rows(-((diff * 3.0) ** 2) / 2),
    }
    for name, w in expected.items():
        out, weights = r[name]
        np.testing.assert_allclose(weights, w, rtol=1e-5, atol=1e-7)
        _check_convex(weights)
        assert out.shape == q.shape
        pooled = [sum(w[i, j] * vn[j] for j in range(30)) for i in range(9)]  # sum_i alpha_i v_i
        np.testing.assert_allclose(out, pooled, rtol=1e-5, atol=1e-6)
    out, weights = r["dot_product"]
    w = _softmax_rows(np.einsum("bqd,bkd->bqk", qsn, ksn) / np.sqrt(8))
    np.testing.assert_allclose(weights, w, rtol=1e-5, atol=1e-7)
    _check_convex(weights)
    np.testing.assert_allclose(out, np.einsum("bqk,bkv->bqv", w, vsn), rtol=1e-5, atol=1e-6)
    assert out.shape == (2, 4, 5)


def test_attention_pool_is_the_weighted_sum_of_the_values():
    w = jnp.array([[[0.2, 0.8, 0.0], [0.5, 0.25, 0.25]]])  # (1, n_q = 2, m = 3)
    v = jnp.array([[1.0, 2.0, 4.0]])  # scalar values (1, m)
    np.testing.assert_allclose(F.attention_pool(w, v), [[1.8, 2.0]], rtol=1e-6)
    vv = jnp.array([[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]])  # vector values (1, m, 2)
    np.testing.assert_allclose(F.attention_pool(w, vv), [[[0.2, 0.8], [1.0, 0.75]]], rtol=1e-6)
    with pytest.raises(ValueError, match="values must hold m = 3 entries"):
        F.attention_pool(w, jnp.ones((1, 4)))


def test_nadaraya_watson_formula(nw_data):
    q, k, v = nw_data
    qn, kn, vn = _np(*nw_data)
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


def test_parametric_init_is_the_digest_s_uniform_draw(key):
    a = F.parametric_nw_init(key)
    assert a["w"].shape == ()
    assert float(a["w"]) == float(jax.random.uniform(key, ()))  # w ~ U(0, 1) from this key
    assert float(a["w"]) == float(F.parametric_nw_init(key)["w"])
    assert float(a["w"]) != float(F.parametric_nw_init(jax.random.fold_in(key, 1))["w"])


def test_dot_product_attention_formula():
    d = draws(2, jnp.float32)
    q, k, v = d.normal((3, 4)), d.normal((5, 4)), d.normal((5, 2))
    s = np.asarray(q, np.float64) @ np.asarray(k, np.float64).T / 2.0
    w = np.exp(s - s.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    np.testing.assert_allclose(
        F.dot_product_attention(q, k, v), w @ np.asarray(v), rtol=1e-5, atol=1e-6
    )


def test_masked_positions_get_zero_weight():
    d = draws(3, jnp.float32)
    q, k, v = d.normal((2, 3, 4)), d.normal((2, 5, 4)), d.normal((2, 5, 6))
    mask = jnp.array([[True, False, True, False, True]] * 3)

    def everything(q, k, v):
        return (
            F.dot_product_attention(q, k, v, valid_lens=jnp.array([2, 4]), return_weights=True),
            F.dot_product_attention(q[0], k[0, :2], v[0, :2]),
            F.dot_product_attention(q[0], k[0], v[0], mask=mask, return_weights=True),
            F.dot_product_attention(q[0], k[0], v[0], valid_lens=jnp.array(0), return_weights=True),
        )

    (out, w), truncated, (out_m, w_m), (out0, w0) = once(everything, q, k, v)
    np.testing.assert_array_equal(w[0, :, 2:], 0.0)
    np.testing.assert_array_equal(w[1, :, 4:], 0.0)
    _check_convex(w)
    # Attending to the first 2 keys equals attention over the truncated database.
    np.testing.assert_allclose(out[0], truncated, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(w_m[:, ~np.asarray(mask[0])], 0.0)
    _check_convex(w_m)
    # The kept keys share the weight as a softmax over them alone.
    s = np.asarray(q[0], np.float64) @ np.asarray(k[0], np.float64)[[0, 2, 4]].T / 2.0
    np.testing.assert_allclose(w_m[:, [0, 2, 4]], _softmax_rows(s), rtol=1e-5, atol=1e-7)
    # A query with every key masked gets zero weights and a zero output, not NaN.
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
