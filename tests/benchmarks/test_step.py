"""benchmarks.bench_step on tiny sizes."""

import pytest

from benchmarks import bench_step
from benchmarks.workloads import mlp_params, mlp_step_flops, mlp_step_matmul_flops
from tests.benchmarks.tiny import ROOFLINE, assert_valid


def test_step_records():
    records = bench_step.run(
        True, config=bench_step.SMOKE, roofline=ROOFLINE, roofline_best=2 * ROOFLINE, progress=False
    )
    assert_valid(records, "step")
    (r,) = records
    sizes, batch = bench_step.SMOKE["workloads"][0]
    assert r["workload"]["sizes"] == list(sizes) and r["workload"]["batch"] == batch
    assert r["params"] == mlp_params(sizes)
    assert r["flops"] == mlp_step_flops(sizes, batch)
    assert r["flops_exact"] == mlp_step_matmul_flops(sizes, batch)
    assert r["fraction_of_roofline"] == pytest.approx(r["flops"] / r["median_s"] / ROOFLINE)
    assert r["fraction_of_roofline_exact"] == pytest.approx(
        r["flops_exact"] / r["median_s"] / ROOFLINE
    )
    assert r["fraction_of_roofline_best"] == pytest.approx(r["flops"] / r["min_s"] / 2 / ROOFLINE)
    assert r["compile_s"] > 0
    assert r["paired_matmul_n"] == bench_step.SMOKE["pair_n"] and r["fraction_of_paired_matmul"] > 0
