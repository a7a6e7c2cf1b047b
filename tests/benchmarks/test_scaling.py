"""benchmarks.bench_scaling on tiny sizes."""

from benchmarks import bench_scaling
from tests.benchmarks.tiny import ROOFLINE, assert_valid


def test_scaling_records():
    records = bench_scaling.run(True, config=bench_scaling.SMOKE, roofline=ROOFLINE, progress=False)
    assert_valid(records, "scaling")
    cfg = bench_scaling.SMOKE
    assert [r["x"] for r in records if r["sweep"] == "width"] == list(cfg["width_sweep"]["widths"])
    assert [r["x"] for r in records if r["sweep"] == "batch"] == list(cfg["batch_sweep"]["batches"])
