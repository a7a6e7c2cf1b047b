"""funcnn.gradcheck.report: rows, their JSON form, and the printed table."""

import json
import math

from funcnn import gradcheck as gc


def _row(leaf, passed, **kw):
    fields = dict(
        shape=(2, 3), max_abs_err=1e-12, max_rel_err=2e-11, max_rel_err_fd=3e-8, fd_coords=6,
        worst_index=(1, 0), grad_scale=0.5,
    )  # fmt: skip
    return gc.GradcheckRow(leaf, passed=passed, **{**fields, **kw})


def test_rows_serialize_to_json_without_nan():
    row = _row("[0]['w']", True, max_rel_err_fd=None, grad_scale=math.nan, worst_index=None)
    d = row.to_dict()
    assert d["pass"] is True and "passed" not in d
    assert d["shape"] == [2, 3] and d["worst_index"] is None
    assert d["grad_scale"] is None and d["max_rel_err_fd"] is None
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_report_verdict_failures_and_table():
    report = gc.GradcheckReport(
        (_row("[0]['w']", True), _row("[0]['b']", False, note="structure mismatch: x")),
        rtol=1e-10, fd_rtol=1e-6, floor_frac=0.01, dtype="float64", context={"model": "m"},
    )  # fmt: skip
    assert not report.passed and [r.leaf for r in report.failures] == ["[0]['b']"]
    assert [d["model"] for d in report.to_dicts()] == ["m", "m"]
    lines = str(report).splitlines()
    assert lines[0].startswith("gradcheck model=m [float64; rtol 1e-10 vs autodiff")
    assert lines[1].split() == ["leaf", "shape", "max", "abs", "err", "max", "rel", "err",
                                "(autodiff)", "max", "rel", "err", "(fd)", "pass", "note"]  # fmt: skip
    assert lines[3].split() == ["[0]['w']", "[2,", "3]", "1.00e-12", "2.00e-11", "3.00e-08", "PASS"]
    assert lines[4].endswith("FAIL  structure mismatch: x")
    assert lines[-1] == "FAILED (1 of 2 leaves)"


def test_format_table_aligns_columns_and_marks_missing_values():
    table = gc.format_table(
        [{"a": "x", "b": None}, {"a": "longer", "b": 1.5}], [("a", "A"), ("b", "B")]
    )
    assert table.splitlines() == ["A       B", "------  --------", "x       -", "longer  1.50e+00"]
