"""funcnn.gradcheck.check: a gradient against jax.grad and finite differences in one program —
the right one passes, a sign flip, a transposed matrix, a missing 1/n and a wrong shape are
caught, each on the leaf where it happens, and float32 is judged at float32 tolerance."""

import json

import jax
import jax.numpy as jnp
import pytest

from funcnn import gradcheck as gc
from tests.gradcheck import common as wg


@pytest.fixture(scope="module")
def reports():
    with jax.enable_x64(True):
        params, batch = wg.net_inputs(jax.random.key(0), jnp.float64)
        checks = [gc.GradCheck(f, wg.loss, params, batch) for f in [wg.right, *wg.BROKEN]]
        return dict(zip(["right"] + [f.__name__ for f in wg.BROKEN], gc.check_many(checks)))


def _failed(report):
    return {r.leaf for r in report.rows if not r.passed}


def _row(report, leaf):
    return next(r for r in report.rows if r.leaf == leaf)


def test_the_right_gradient_passes(reports):
    report = reports["right"]
    assert report.passed and report.dtype == "float64"
    assert len(report.rows) == 6
    assert all(r.max_rel_err <= 1e-10 and r.max_rel_err_fd <= 1e-6 for r in report.rows)


def test_sign_flip_is_caught(reports):
    report = reports["sign_flip"]
    assert _failed(report) == {"[1]['b']"}
    row = _row(report, "[1]['b']")
    assert row.max_rel_err == pytest.approx(2.0)
    assert row.max_rel_err_fd == pytest.approx(2.0, rel=1e-6)


def test_transposed_matrix_is_caught(reports):
    report = reports["transposed"]
    assert _failed(report) == {"[1]['w']"}
    row = _row(report, "[1]['w']")
    assert row.max_rel_err > 0.1 and row.max_rel_err_fd > 0.1


def test_missing_one_over_n_is_caught(reports):
    report = reports["missing_one_over_n"]
    assert _failed(report) == {r.leaf for r in report.rows}  # every leaf is 5x too large
    for row in report.rows:
        assert row.max_rel_err == pytest.approx(1 - 1 / 5)


def test_non_square_transpose_is_a_structure_mismatch_row(reports):
    report = reports["transposed_nonsquare"]
    assert _failed(report) == {"[0]['w']"}
    assert "structure mismatch" in _row(report, "[0]['w']").note
    assert "FAIL" in str(report) and "structure mismatch" in str(report)


def test_report_prints_a_table_and_serializes(reports):
    text = str(reports["sign_flip"])
    for header in wg.TABLE_HEADERS:
        assert header in text
    assert "[1]['b']" in text and "FAIL" in text and "PASS" in text
    assert text.endswith("FAILED (1 of 6 leaves)") and str(reports["right"]).endswith("PASSED")
    rows = reports["right"].to_dicts()
    json.dumps(rows, allow_nan=False)
    assert {"leaf", "shape", "max_abs_err", "max_rel_err", "max_rel_err_fd", "pass"} <= set(rows[0])


def test_float32_gradients_are_judged_at_float32_tolerance():
    params = {"w": jnp.array([0.5, -1.0, 2.0], jnp.float32)}
    loss = lambda p: jnp.sum(jnp.tanh(p["w"]) ** 2)
    manual = lambda p: {"w": 2 * jnp.tanh(p["w"]) * (1 - jnp.tanh(p["w"]) ** 2)}
    report = gc.check_grads(manual, loss, params)
    assert report.dtype == "float32" and report.rtol == gc.TOLERANCES["float32"][0]
    assert report.passed, str(report)
    assert 0 < report.rows[0].max_rel_err_fd < 1e-4  # float32 result against float64 differences
    wrong = gc.check_grads(lambda p: {"w": 1.001 * manual(p)["w"]}, loss, params)
    assert not wrong.passed  # 1e-3 off: beyond float32's tolerance


def test_check_many_options_and_errors():
    params = {"w": jnp.array([0.5, -1.0])}
    loss = lambda p: jnp.sum(p["w"] ** 3)
    manual = lambda p: {"w": 3 * p["w"] ** 2}
    report = gc.check_grads(manual, loss, params, fd=False, jit=False, context={"model": "cube"})
    assert report.passed and report.rows[0].max_rel_err_fd is None
    assert report.rows[0].fd_coords == 0 and report.to_dicts()[0]["model"] == "cube"
    with pytest.raises(ValueError, match="fd_eps must be positive"):
        gc.check_grads(manual, loss, params, fd_eps=-1.0)
