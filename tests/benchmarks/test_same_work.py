"""benchmarks.same_work: the check that compared contenders compute the same values."""

import numpy as np
import pytest

from benchmarks.same_work import WorkMismatchError, assert_same_work


def test_same_work_catches_structure_and_shape():
    a = {"losses": [np.ones(())], "params": [{"w": np.ones((2, 3))}]}
    with pytest.raises(WorkMismatchError, match="shape"):
        assert_same_work(a, {"losses": [np.ones(())], "params": [{"w": np.ones((3, 2))}]})
    with pytest.raises(WorkMismatchError, match="structures"):
        assert_same_work(a, {"losses": [np.ones(())], "params": []})


def test_same_work_refuses_values_that_are_not_finite():
    with pytest.raises(WorkMismatchError, match="not finite"):
        assert_same_work({"loss": np.array(np.nan)}, {"loss": np.array(np.nan)})


def test_same_work_names_the_worst_element():
    a = {"w": np.zeros((3, 4))}
    b = {"w": a["w"].copy()}
    b["w"][2, 1] = 1.0
    with pytest.raises(WorkMismatchError, match=r"\['w'\] differs .* at index \(2, 1\)"):
        assert_same_work(a, b, what="x")


def test_the_tolerance_follows_the_dtype():
    a = {"w": np.linspace(1.0, 2.0, 100)}
    b = {"w": a["w"] * (1 + 1e-3)}  # bfloat16 rounding, far beyond float32's
    assert assert_same_work(a, b, dtype="bfloat16").outliers == 0
    with pytest.raises(WorkMismatchError):
        assert_same_work(a, b, dtype="float32")


def test_same_work_tolerates_only_a_few_bounded_outliers():
    a = {"w": np.linspace(-1.0, 1.0, 10_000).reshape(100, 100)}
    few = {"w": a["w"].copy()}
    few["w"][3, :5] += 1e-3  # five coordinates an Adam step apart
    opts = dict(outlier_fraction=1e-3, outlier_atol=6e-3)
    same = assert_same_work(a, few, **opts)
    assert same.outliers == 5 and same.elements == 10_000 and same.max_rel_err == 0.0
    with pytest.raises(WorkMismatchError, match="beyond rtol"):
        assert_same_work(a, few)  # no allowance by default
    many = {"w": a["w"] + 1e-3}  # every coordinate moved: another workload
    with pytest.raises(WorkMismatchError, match="10000 of 10000 elements"):
        assert_same_work(a, many, **opts)
    far = {"w": few["w"].copy()}
    far["w"][0, 0] += 0.1  # one coordinate beyond any Adam step
    with pytest.raises(WorkMismatchError, match="beyond 0.006"):
        assert_same_work(a, far, **opts)
