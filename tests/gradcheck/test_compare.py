"""funcnn.gradcheck.compare: the relative error with a floor, and the leaf-by-leaf comparison
that reports structure mismatches as failing rows."""

import jax.numpy as jnp
import numpy as np
import pytest

from funcnn import gradcheck as gc


def test_relative_error_is_meaningful_near_zero():
    # Far from zero: the usual |a - b| / max(|a|, |b|).
    np.testing.assert_allclose(gc.relative_error([2.0], [1.0], 0.0), [0.5])
    # Both exactly zero: no error (no 0/0); zero on one side only: error 1.
    assert gc.relative_error([0.0], [0.0], 0.0)[0] == 0.0
    assert gc.relative_error([0.0], [3.0], 0.0)[0] == 1.0
    # A sign flip is 2, a factor n too many is 1 - 1/n.
    assert gc.relative_error([-1.5], [1.5], 0.0)[0] == 2.0
    np.testing.assert_allclose(gc.relative_error([4.0], [1.0], 0.0), [0.75])
    # Rounding noise on an entry that cancels to ~0 is measured on the leaf's scale.
    a = np.array([1.0, 1e-17])
    b = np.array([1.0, -1e-17])
    assert gc.relative_error(a, b, 0.0)[1] == 2.0  # entrywise it would look like a sign flip
    floor = gc.leaf_floor(a, b)
    assert floor == pytest.approx(gc.DEFAULT_FLOOR_FRAC)
    assert gc.relative_error(a, b, floor)[1] < 1e-14
    # ... while a wrong entry that matters on that scale still fails.
    assert gc.relative_error(np.array([1.0, 0.05]), np.array([1.0, -0.05]), floor)[1] == 2.0


def test_leaf_floor_is_a_fraction_of_the_larger_leaf_or_atol():
    assert gc.leaf_floor([1.0, -4.0], [2.0, 3.0], 0.1) == pytest.approx(0.4)
    assert gc.leaf_floor([1e-9], [0.0], 0.01, atol=1e-6) == 1e-6
    assert gc.leaf_floor([], [], 0.01) == 0.0


def test_compare_grads_reports_structure_mismatches_without_raising():
    ref = {"a": jnp.ones((2, 3)), "b": jnp.ones(3), "c": jnp.ones(2)}
    manual = {"a": jnp.ones((3, 2)), "b": jnp.ones(3), "d": jnp.ones(2)}
    rows = {r.path: r for r in gc.compare_grads(manual, ref, rtol=1e-6)}
    assert rows["['b']"].passed and rows["['b']"].max_rel_err == 0.0
    assert not rows["['a']"].passed and "shape (3, 2) vs reference (2, 3)" in rows["['a']"].note
    assert not rows["['d']"].passed and "missing in the reference" in rows["['d']"].note
    assert not rows["['c']"].passed and "missing in the manual" in rows["['c']"].note
    nan_rows = gc.compare_grads({"a": jnp.array([np.nan])}, {"a": jnp.array([1.0])}, rtol=1e-3)
    assert not nan_rows[0].passed and "non-finite" in nan_rows[0].note


def test_compare_grads_finds_the_worst_entry():
    manual = {"w": jnp.array([[1.0, 2.0], [3.0, 4.5]])}
    ref = {"w": jnp.array([[1.0, 2.0], [3.0, 4.0]])}
    (row,) = gc.compare_grads(manual, ref, rtol=0.1)
    assert row.worst_index == (1, 1) and row.max_abs_err == 0.5 and row.scale == 4.0
    assert row.max_rel_err == pytest.approx(0.5 / 4.5) and not row.passed
    (row,) = gc.compare_grads(manual, ref, rtol=0.2)
    assert row.passed
