"""benchmarks.bench_manual_vs_autodiff on tiny sizes."""

import jax
import numpy as np
import pytest

from benchmarks import bench_manual_vs_autodiff as bench
from benchmarks.same_work import WorkMismatchError
from tests.benchmarks.tiny import assert_valid


def test_manual_vs_autodiff_benchmark_records():
    records = bench.run(True, config=bench.SMOKE, progress=False)
    assert_valid(records, "manual_vs_autodiff")
    assert [r["name"] for r in records] == ["manual", "autodiff"]
    for r in records:
        assert r["baseline"] == "autodiff"
        assert r["workload"]["sizes"] == [8, 16, 16, 4] and r["workload"]["batch"] == 8
        # The hand-written backward performs the products autodiff derives: the gradients
        # agree to rounding, far within the benchmark's check (1e-4).
        assert r["grad_max_rel_err"] <= 1e-6
    assert records[1]["ratio"] == 1.0
    # Same start, same number of steps on the same batch (warm-up and timed rounds alike):
    # the last losses agree to a few float32 ulps.
    np.testing.assert_allclose(records[0]["last_loss"], records[1]["last_loss"], rtol=1e-6)


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
