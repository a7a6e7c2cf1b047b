"""benchmarks.bench_scaling on tiny sizes."""

from benchmarks import bench_scaling
from tests.benchmarks.tiny import ROOFLINE, assert_valid


def test_scaling_records():
    records = bench_scaling.run(True, config=bench_scaling.SMOKE, roofline=ROOFLINE, progress=False)
    assert_valid(records, "scaling")
    cfg = bench_scaling.SMOKE
    n_in, ws, bs = cfg["n_in"], cfg["width_sweep"], cfg["batch_sweep"]
    width = [r for r in records if r["sweep"] == "width"]
    batch = [r for r in records if r["sweep"] == "batch"]
    assert [r["x"] for r in width] == list(ws["widths"])
    assert [r["x"] for r in batch] == list(bs["batches"])
    for r in width:  # the width varies at the sweep's batch
        assert r["workload"]["sizes"] == [n_in, r["x"], r["x"], 10]
        assert r["workload"]["batch"] == ws["batch"] and r["name"] == f"width={r['x']}"
    for r in batch:  # the batch varies at the sweep's width
        assert r["workload"]["sizes"] == [n_in, bs["width"], bs["width"], 10]
        assert r["workload"]["batch"] == r["x"] and r["name"] == f"batch={r['x']}"
