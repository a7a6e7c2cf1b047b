"""python -m benchmarks: a suite run writes results.json and a report."""

import json

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import report
from benchmarks.records import validate_record


def test_main_runs_a_suite_and_writes_a_report(tmp_path):
    out = tmp_path / "run"
    code = bench_main.main(
        ["--suite", "smoke", "--out", str(out), "--only", "roofline", "step", "--no-progress"]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["suite"] == "smoke" and results["invalid_records"] == []
    assert {r["bench"] for r in results["records"]} == {"roofline", "step"}
    for r in results["records"]:
        assert validate_record(r) == []
    md = (out / "RESULTS.md").read_text()
    assert "## roofline" in md and "## step" in md and "| n | dtype |" in md
    assert (out / "step.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the report can be redrawn from the JSON alone
    assert report.main([str(out)]) == 0


def test_main_rejects_unknown_benchmarks():
    with pytest.raises(SystemExit):
        bench_main.parse_args(["--only", "nonsense"])
