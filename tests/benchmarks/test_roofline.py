"""benchmarks.bench_roofline on tiny sizes."""

from benchmarks import bench_roofline
from tests.benchmarks.tiny import assert_valid


def test_roofline_records():
    records = bench_roofline.run(True, config=bench_roofline.SMOKE, progress=False)
    assert_valid(records, "roofline")
    assert [r["is_roofline"] for r in records].count(True) == 1
    for r in records:
        n = r["workload"]["sizes"][0]
        assert r["flops"] == 2 * n**3 and 0 < r["fraction_of_roofline"] <= 1.0
    best = bench_roofline.roofline_from(records, "float32")
    assert best == max(r["achieved_flops_per_s"] for r in records)
