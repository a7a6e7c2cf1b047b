"""benchmarks.bench_loop on a small linear regression."""

import pytest

from benchmarks import bench_loop
from benchmarks.same_work import WorkMismatchError
from tests.benchmarks.tiny import assert_valid


def test_loop_records():
    records = bench_loop.run(True, config=bench_loop.SMOKE, progress=False)
    assert_valid(records, "loop")
    by_name = {r["name"]: r for r in records}
    seeds = bench_loop.SMOKE["workloads"]["linreg"]["seeds"]
    s, v = f"sequential_{seeds}", f"vmap_{seeds}"
    assert list(by_name) == [
        f"linreg/{n}"
        for n in ("python_loop", "scan_epoch", s, v, f"{s}_own_order", f"{v}_own_order")
    ]
    compared = {"scan_epoch": "python_loop", v: s, f"{v}_own_order": f"{s}_own_order"}
    for name, baseline in compared.items():
        r = by_name[f"linreg/{name}"]
        assert r["baseline"] == f"linreg/{baseline}"
        assert r["speedup"] == pytest.approx(1.0 / r["ratio"])
        assert r["runs"] == by_name[f"linreg/{baseline}"]["runs"]
    assert by_name[f"linreg/{v}"]["runs"] == seeds
    assert by_name["linreg/python_loop"]["workload"]["steps_per_epoch"] == 200 // 10
    # The scanned epoch runs the loop's step on the loop's batches in the loop's order: the
    # same float32 operations, so the same numbers to the bit.
    assert by_name["linreg/scan_epoch"]["same_work"]["max_rel_err"] == 0.0
    # vmap batches the runs' matmuls, which may sum in another order: a few ulps, far within
    # 1% of the check's float32 tolerance (2e-4 relative), and no outlier.
    for name in (v, f"{v}_own_order"):
        assert by_name[f"linreg/{name}"]["same_work"]["max_rel_err"] < 0.01
        assert by_name[f"linreg/{name}"]["same_work"]["outliers"] == 0


def test_loop_refuses_to_time_different_work(monkeypatch):
    import funcnn.train as train

    real = train.make_vmapped_epoch

    def with_another_lr(model, loss, optimizer, **kwargs):
        return real(model, loss, train.make_optimizer("sgd", 0.06), **kwargs)

    monkeypatch.setattr(train, "make_vmapped_epoch", with_another_lr)
    with pytest.raises(WorkMismatchError, match="vmap_4 vs sequential_4"):
        bench_loop.run(True, config=bench_loop.SMOKE, progress=False)
