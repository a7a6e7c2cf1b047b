"""funcnn.ops: softmax, log-softmax, one-hot encoding and parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcnn as F


def test_softmax_and_log_softmax_against_numpy():
    o = np.array([[1.0, 2.0, 3.0], [1e4, 0.0, -1e4]])
    e = np.exp(o - o.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(F.softmax(jnp.asarray(o, jnp.float32)), p, rtol=1e-6, atol=1e-30)
    log_p = o - o.max(1, keepdims=True) - np.log(e.sum(1, keepdims=True))
    np.testing.assert_allclose(F.log_softmax(jnp.asarray(o, jnp.float32)), log_p, rtol=1e-6)
    np.testing.assert_allclose(F.softmax(jnp.asarray(o.T, jnp.float32), axis=0), p.T, rtol=1e-6)


def test_one_hot_rows():
    np.testing.assert_array_equal(
        F.one_hot(jnp.array([2, 0]), 3), [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    )
    assert F.one_hot(jnp.array([[1]]), 2, jnp.int32).shape == (1, 1, 2)


def test_one_hot_rejects_bad_labels_and_class_counts():
    with pytest.raises(ValueError, match="found label -1"):
        F.one_hot(jnp.array([-1, 0]), 3)
    with pytest.raises(TypeError, match="labels must hold integer class labels; got dtype float32"):
        F.one_hot(jnp.array([0.0, 1.0]), 3)
    with pytest.raises(ValueError, match="n_classes must be a positive integer; got 2.5"):
        F.one_hot(jnp.array([0]), 2.5)


@given(st.lists(st.integers(1, 40), min_size=2, max_size=6))
def test_param_count_equals_sum_of_leaf_sizes(sizes):
    net = F.mlp(sizes, "tanh")
    params = jax.eval_shape(net.init, jax.random.key(0))
    leaf_total = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(params))
    assert F.param_count(params) == leaf_total
    assert F.mlp_param_count(sizes) == leaf_total
    assert leaf_total == sum(n * (m + 1) for m, n in zip(sizes[:-1], sizes[1:]))
