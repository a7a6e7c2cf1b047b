"""funcnn.norms: the l1, l2, lp and Frobenius norms against numpy."""

import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F


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
