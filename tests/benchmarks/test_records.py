"""benchmarks.records: the schema every record has, and its checks."""

import json
import os

import jax
import numpy as np
import pytest

from benchmarks import records
from benchmarks.timing import MIN_REPEATS, Timing
from funcnn.io import CORE_PACKAGES
from tests.benchmarks.tiny import COMMITTED


def _timing(n=MIN_REPEATS, t=1e-3):
    return Timing(tuple(t * (1 + 0.01 * i) for i in range(n)))


def test_make_record_has_the_schema(monkeypatch):
    jax.devices()  # start the backend first: XLA aborts on a flag it does not know at start
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_test_only")
    rec = records.make_record(
        "step",
        "funcnn",
        records.workload("mlp", (4, 8, 2), 16, "float32"),
        _timing(),
        compile_s=0.5,
        flops=1e6,
        flops_formula="test",
        roofline=2e9,
        ratio=1.0,
        baseline="funcnn",
        packages=("scikit-learn",),
    )
    assert records.validate_record(rec) == []
    for key in (*records.REQUIRED_FIELDS, "flops", "achieved_flops_per_s", "fraction_of_roofline"):
        assert key in rec
    assert rec["workload"] == {"model": "mlp", "sizes": [4, 8, 2], "batch": 16, "dtype": "float32"}
    assert rec["achieved_flops_per_s"] == pytest.approx(1e6 / rec["median_s"])
    assert rec["fraction_of_roofline"] == pytest.approx(rec["achieved_flops_per_s"] / 2e9)
    assert rec["device"]["platform"] == jax.devices()[0].platform
    assert rec["device"]["count"] == len(jax.local_devices())
    assert rec["device"]["env"]["XLA_FLAGS"] == "--xla_cpu_test_only"
    assert list(rec["versions"]) == ["python", *CORE_PACKAGES, "scikit-learn"]
    assert rec["versions"]["jax"] == jax.__version__


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("median_s"), "missing field 'median_s'"),
        (lambda r: r.update(repeats=5), "repeats must be >= 20"),
        (lambda r: r.update(ratio=1.2), "ratio and baseline come together"),
        (lambda r: r["workload"].pop("dtype"), "missing field workload.'dtype'"),
        (lambda r: r.update(min_s=1.0), "min_s <= median_s <= max_s"),
        (lambda r: r.update(compile_s="fast"), "'compile_s' must be float or NoneType"),
        (lambda r: r.update(median_s=float("nan")), "finite"),
        (lambda r: r.update(repeats=True), "'repeats' must be int"),
        (lambda r: r.update(fraction_of_roofline=0.5), "needs achieved_flops_per_s"),
        (lambda r: r["device"].pop("device_kind"), "device.device_kind must be a string"),
    ],
)
def test_validate_record_names_each_problem(mutate, message):
    rec = records.make_record(
        "x", "y", records.workload("mlp", None, None, "float32"), _timing(), compile_s=None
    )
    mutate(rec)
    problems = records.validate_record(rec)
    assert any(message in p for p in problems), problems
    with pytest.raises(ValueError, match="invalid benchmark record"):
        records.check_record(rec)


def test_a_ratio_needs_its_baseline():
    with pytest.raises(ValueError, match="needs the name of its baseline"):
        records.make_record(
            "x",
            "y",
            records.workload("m", None, None, "float32"),
            _timing(),
            compile_s=None,
            ratio=1.0,
        )


def test_normalize_record_brings_loose_fields_into_the_schema():
    t = _timing()
    loose = {
        "bench": "loop",
        "name": "scan",
        "batch": 128,
        "dtype": "float32",
        "sizes": (40, 256, 10),
        "median_s": np.float64(t.median),
        "min_s": t.min,
        "max_s": t.max,
        "repeats": np.int64(20),
        "ratio": np.float32(0.5),
        "baseline": "python_loop",
        "device": "cpu",
    }
    assert records.validate_record(loose) != []
    rec = records.normalize_record(loose)
    assert records.validate_record(rec) == [], records.validate_record(rec)
    assert rec["workload"] == {
        "batch": 128,
        "dtype": "float32",
        "sizes": [40, 256, 10],
        "model": "loop",
    }
    assert "batch" not in rec and "sizes" not in rec
    assert rec["device"]["reported_as"] == "cpu" and rec["compile_s"] is None
    assert type(rec["median_s"]) is float and type(rec["repeats"]) is int


def test_the_committed_results_still_have_the_schema():
    with open(os.path.join(COMMITTED, "results.json")) as f:
        results = json.load(f)
    assert len(results["records"]) == 46
    for rec in results["records"]:
        assert records.validate_record(rec) == [], rec["name"]
        assert records.normalize_record(rec) == rec  # nothing to move or fill


def test_default_out_dir_names_date_device_suite_and_dtype():
    gpu = {"platform": "gpu", "device_kind": "NVIDIA H100 80GB HBM3"}
    assert records.device_slug(gpu) == "nvidia-h100-80gb-hbm3"
    out = records.default_out_dir("full", "bfloat16", gpu)
    assert out.endswith("-nvidia-h100-80gb-hbm3-full-bfloat16")
    assert os.path.basename(os.path.dirname(out)) == "results"
    assert records.default_out_dir("quick", "float32", {"platform": "cpu"}).endswith("-cpu-quick")
