"""Norms, initializer statistics and parameter counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funcnn as F
from funcnn import initializers as I


def test_norms_against_numpy():
    x = jnp.array([[3.0, -4.0], [1.0, -2.0]])
    xn = np.asarray(x).ravel()
    assert float(F.l1(x)) == pytest.approx(np.abs(xn).sum())
    assert float(F.l2(x)) == pytest.approx(np.sqrt((xn**2).sum()), rel=1e-6)
    # |x|^p: with odd p and negative entries the digest's form (without |.|) would differ.
    assert float(F.lp(x, 3)) == pytest.approx((np.abs(xn) ** 3).sum() ** (1 / 3), rel=1e-6)
    assert float(F.lp(x, 1)) == pytest.approx(float(F.l1(x)), rel=1e-6)
    assert float(F.lp(x, 2)) == pytest.approx(float(F.l2(x)), rel=1e-6)


def test_lp_rejects_p_below_one():
    with pytest.raises(ValueError, match="p must be a number >= 1"):
        F.lp(jnp.ones(3), 0.5)


def test_frobenius_of_a_pytree_is_l2_of_all_leaves():
    tree = {"a": jnp.array([[1.0, 2.0]]), "b": [jnp.array([2.0]), jnp.array(4.0)]}
    assert float(F.frobenius(tree)) == pytest.approx(5.0)


# (name, expected variance for a (fan_in, fan_out) = (400, 200) weight)
FAN_IN, FAN_OUT = 400, 200
VARIANCES = {
    "normal": 0.01**2,
    "uniform": 0.05**2 / 3,
    "xavier_normal": 2 / (FAN_IN + FAN_OUT),
    "xavier_uniform": 2 / (FAN_IN + FAN_OUT),
    "he_normal": 2 / FAN_IN,
    "he_uniform": 2 / FAN_IN,
}


@pytest.mark.parametrize("name", sorted(VARIANCES))
def test_initializer_mean_and_variance(name, key):
    w = np.asarray(I.get_initializer(name)(key, (FAN_IN, FAN_OUT)), np.float64)
    var = VARIANCES[name]
    n = w.size  # 80,000 draws: the sample variance is within a few percent of the truth
    assert abs(w.mean()) < 5 * np.sqrt(var / n)
    assert w.var() == pytest.approx(var, rel=0.03)
    if "uniform" in name:
        assert np.abs(w).max() <= np.sqrt(3 * var) + 1e-7


def test_zeros_and_options(key):
    assert not np.any(np.asarray(I.zeros(key, (3, 4))))
    w = I.get_initializer("normal", std=2.0)(key, (300, 300))
    assert float(jnp.std(w)) == pytest.approx(2.0, rel=0.02)
    with pytest.raises(ValueError, match="takes no option"):
        I.get_initializer("he_normal", std=1.0)
    with pytest.raises(ValueError, match="unknown initializer 'lecun'.*he_normal"):
        I.get_initializer("lecun")


def test_same_key_same_draw_different_key_different_draw(key):
    a = I.he_normal(key, (5, 5))
    np.testing.assert_array_equal(a, I.he_normal(key, (5, 5)))
    assert not np.allclose(a, I.he_normal(jax.random.fold_in(key, 1), (5, 5)))


@given(st.lists(st.integers(1, 40), min_size=2, max_size=6))
def test_param_count_equals_sum_of_leaf_sizes(sizes):
    net = F.mlp(sizes, "tanh")
    params = jax.eval_shape(net.init, jax.random.key(0))
    leaf_total = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(params))
    assert F.param_count(params) == leaf_total
    assert F.mlp_param_count(sizes) == leaf_total
    assert leaf_total == sum(n * (m + 1) for m, n in zip(sizes[:-1], sizes[1:]))
