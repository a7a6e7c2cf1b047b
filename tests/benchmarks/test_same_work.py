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


def test_same_work_tolerates_only_a_few_bounded_outliers():
    a = {"w": np.linspace(-1.0, 1.0, 10_000).reshape(100, 100)}
    few = {"w": a["w"].copy()}
    few["w"][3, :5] += 1e-3  # five coordinates an Adam step apart
    opts = dict(outlier_fraction=1e-3, outlier_atol=6e-3)
    same = assert_same_work(a, few, **opts)
    assert same.outliers == 5 and same.elements == 10_000
    with pytest.raises(WorkMismatchError, match="beyond rtol"):
        assert_same_work(a, few)  # no allowance by default
    many = {"w": a["w"] + 1e-3}  # every coordinate moved: another workload
    with pytest.raises(WorkMismatchError, match="10000 of 10000 elements"):
        assert_same_work(a, many, **opts)
    far = {"w": few["w"].copy()}
    far["w"][0, 0] += 0.1  # one coordinate beyond any Adam step
    with pytest.raises(WorkMismatchError, match="beyond 0.006"):
        assert_same_work(a, far, **opts)
