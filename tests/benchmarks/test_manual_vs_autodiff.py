"""benchmarks.bench_manual_vs_autodiff on tiny sizes."""

import jax
import numpy as np
import pytest

from benchmarks import bench_manual_vs_autodiff as bench
from benchmarks.records import validate_record
from benchmarks.same_work import WorkMismatchError


def test_manual_vs_autodiff_benchmark_records():
    records = bench.run(True, config=bench.SMOKE, progress=False)
    assert [r["name"] for r in records] == ["manual", "autodiff"]
    for r in records:
        assert validate_record(r) == [], r
        assert r["baseline"] == "autodiff" and r["repeats"] >= 20
        assert r["workload"]["sizes"] == [8, 16, 16, 4] and r["workload"]["batch"] == 8
        assert r["grad_max_rel_err"] <= 1e-4  # the contenders were checked to agree first
    assert records[1]["ratio"] == 1.0
    # Same starting point, same steps: the last losses of the two chains agree.
    np.testing.assert_allclose(records[0]["last_loss"], records[1]["last_loss"], rtol=1e-4)


def test_benchmark_refuses_to_time_different_gradients(monkeypatch):
    real = bench.make_value_and_grad

    def wrong(model, grad):
        f = real(model, grad)
        if grad == "manual":
            return lambda p, x, y: (
                f(p, x, y)[0],
                jax.tree_util.tree_map(lambda g: 2 * g, f(p, x, y)[1]),
            )
        return f

    monkeypatch.setattr(bench, "make_value_and_grad", wrong)
    with pytest.raises(WorkMismatchError, match="gradients differ"):
        bench.run(True, config=bench.SMOKE, progress=False)
