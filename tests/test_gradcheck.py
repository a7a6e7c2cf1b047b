"""funcnn.gradcheck: the error measure, catching wrong gradients (sign flip, transposed matrix,
missing 1/n), structure mismatches, finite differences, the kink helper, and the command."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn import cli as funcnn_cli
from funcnn import gradcheck as gc
from funcnn import gradcheck_cli as cli

# --- the relative error ------------------------------------------------------------------------


def test_relative_error_is_meaningful_near_zero():
    # Far from zero: the usual |a - b| / max(|a|, |b|).
    np.testing.assert_allclose(gc.relative_error([2.0], [1.0], 0.0), [0.5])
    # Both exactly zero: no error (no 0/0); zero on one side only: error 1.
    assert gc.relative_error([0.0], [0.0], 0.0)[0] == 0.0
    assert gc.relative_error([0.0], [3.0], 0.0)[0] == 1.0
    # A sign flip is 2, a factor n too many is 1 - 1/n.
    assert gc.relative_error([-1.5], [1.5], 0.0)[0] == 2.0
    np.testing.assert_allclose(gc.relative_error([4.0], [1.0], 0.0), [0.75])
    # Rounding noise on an entry that cancels to ~0 is measured on the leaf's scale.
    a = np.array([1.0, 1e-17])
    b = np.array([1.0, -1e-17])
    assert gc.relative_error(a, b, 0.0)[1] == 2.0  # entrywise it would look like a sign flip
    floor = gc.leaf_floor(a, b)
    assert floor == pytest.approx(gc.DEFAULT_FLOOR_FRAC)
    assert gc.relative_error(a, b, floor)[1] < 1e-14
    # ... while a wrong entry that matters on that scale still fails.
    assert gc.relative_error(np.array([1.0, 0.05]), np.array([1.0, -0.05]), floor)[1] == 2.0


def test_compare_grads_reports_structure_mismatches_without_raising():
    ref = {"a": jnp.ones((2, 3)), "b": jnp.ones(3), "c": jnp.ones(2)}
    manual = {"a": jnp.ones((3, 2)), "b": jnp.ones(3), "d": jnp.ones(2)}
    rows = {r.path: r for r in gc.compare_grads(manual, ref, rtol=1e-6)}
    assert rows["['b']"].passed and rows["['b']"].max_rel_err == 0.0
    assert not rows["['a']"].passed and "shape (3, 2) vs reference (2, 3)" in rows["['a']"].note
    assert not rows["['d']"].passed and "missing in the reference" in rows["['d']"].note
    assert not rows["['c']"].passed and "missing in the manual" in rows["['c']"].note
    nan_rows = gc.compare_grads({"a": jnp.array([np.nan])}, {"a": jnp.array([1.0])}, rtol=1e-3)
    assert not nan_rows[0].passed and "non-finite" in nan_rows[0].note


# --- catching wrong gradients ------------------------------------------------------------------

NET = F.mlp([3, 4, 4, 2], "tanh")  # a square hidden weight, so a transpose keeps its shape
VG = bp.value_and_grad(NET, "mse")


def _loss(params, x, y):
    return F.mse(NET.apply(params, x), y)


def _right(params, x, y):
    return VG(params, x, y)[1]


def _sign_flip(params, x, y):
    g = _right(params, x, y)
    g[1]["b"] = -g[1]["b"]
    return g


def _transposed(params, x, y):
    g = _right(params, x, y)
    g[1]["w"] = g[1]["w"].T
    return g


def _missing_one_over_n(params, x, y):
    """The batch gradient summed instead of averaged (the 1/n of the digest's eq. 7 dropped)."""
    return jax.tree_util.tree_map(lambda t: t * x.shape[0], _right(params, x, y))


def _transposed_nonsquare(params, x, y):
    g = _right(params, x, y)
    g[0]["w"] = g[0]["w"].T
    return g


BROKEN = [_sign_flip, _transposed, _missing_one_over_n, _transposed_nonsquare]


@pytest.fixture(scope="module")
def reports():
    with jax.enable_x64(True):
        draws = gc.Draws(jax.random.key(0), jnp.float64)
        params = gc.nontrivial_params(NET, draws)
        x, y = draws.normal((5, 3)), draws.normal((5, 2))
        checks = [gc.GradCheck(f, _loss, params, (x, y)) for f in [_right, *BROKEN]]
        return dict(zip(["right"] + [f.__name__ for f in BROKEN], gc.check_many(checks)))


def test_the_right_gradient_passes(reports):
    report = reports["right"]
    assert report.passed and report.dtype == "float64"
    assert len(report.rows) == 6


def _failed(report):
    return {r.leaf for r in report.rows if not r.passed}


def test_sign_flip_is_caught(reports):
    report = reports["_sign_flip"]
    assert _failed(report) == {"[1]['b']"}
    row = next(r for r in report.rows if r.leaf == "[1]['b']")
    assert row.max_rel_err == pytest.approx(2.0) and row.max_rel_err_fd == pytest.approx(
        2.0, rel=1e-6
    )


def test_transposed_matrix_is_caught(reports):
    report = reports["_transposed"]
    assert _failed(report) == {"[1]['w']"}
    row = next(r for r in report.rows if r.leaf == "[1]['w']")
    assert row.max_rel_err > 0.1 and row.max_rel_err_fd > 0.1


def test_missing_one_over_n_is_caught(reports):
    report = reports["_missing_one_over_n"]
    assert _failed(report) == {r.leaf for r in report.rows}  # every leaf is 5x too large
    for row in report.rows:
        assert row.max_rel_err == pytest.approx(1 - 1 / 5)


def test_non_square_transpose_is_a_structure_mismatch_row(reports):
    report = reports["_transposed_nonsquare"]
    assert _failed(report) == {"[0]['w']"}
    row = next(r for r in report.rows if r.leaf == "[0]['w']")
    assert "structure mismatch" in row.note
    assert "FAIL" in str(report) and "structure mismatch" in str(report)


def test_report_prints_a_table_and_serializes(reports):
    text = str(reports["_sign_flip"])
    for header in (
        "leaf",
        "shape",
        "max abs err",
        "max rel err (autodiff)",
        "max rel err (fd)",
        "pass",
    ):
        assert header in text
    assert "[1]['b']" in text and "FAIL" in text and "PASS" in text
    rows = reports["right"].to_dicts()
    json.dumps(rows, allow_nan=False)
    assert {"leaf", "shape", "max_abs_err", "max_rel_err", "max_rel_err_fd", "pass"} <= set(rows[0])


def test_finite_differences_catch_what_autodiff_cannot():
    """A loss with a wrong custom derivative fools jax.grad (the reference) but not the
    finite differences."""

    @jax.custom_jvp
    def cube(x):
        return x**3

    cube.defjvp(lambda primals, tangents: (primals[0] ** 3, 2 * primals[0] ** 2 * tangents[0]))

    with jax.enable_x64(True):
        params = {"w": jnp.array([0.5, -1.0, 2.0])}
        loss = lambda p: jnp.sum(cube(p["w"]))
        wrong_manual = lambda p: {"w": 2 * p["w"] ** 2}  # agrees with the wrong jax.grad
        report = gc.check_grads(wrong_manual, loss, params)
        row = report.rows[0]
        assert row.max_rel_err == 0.0  # autodiff agrees with the wrong gradient
        assert row.max_rel_err_fd == pytest.approx(1 / 3, rel=1e-6)  # 3 w^2 vs 2 w^2
        assert not report.passed


def test_large_leaves_get_sampled_coordinates():
    with jax.enable_x64(True):
        params = {"big": jnp.linspace(-1.0, 1.0, 200), "small": jnp.array([0.3, 0.7])}
        loss = lambda p: jnp.sum(jnp.sin(p["big"])) + jnp.sum(p["small"] ** 2)
        fd, noise = gc.finite_difference_grads(loss, params, max_coords=16, key=jax.random.key(1))
        idx, values = fd["['big']"]
        assert idx.size == 16 and len(set(idx.tolist())) == 16
        np.testing.assert_allclose(values, np.cos(np.linspace(-1, 1, 200))[idx], rtol=1e-8)
        np.testing.assert_array_equal(fd["['small']"][0], [0, 1])
        assert 0 < noise < 1e-6
        report = gc.check_grads(
            lambda p: {"big": jnp.cos(p["big"]), "small": 2 * p["small"]},
            loss,
            params,
            max_fd_coords=16,
        )
        assert report.passed
        assert [r.fd_coords for r in report.rows] == [16, 2]


def test_float32_gradients_are_judged_at_float32_tolerance():
    params = {"w": jnp.array([0.5, -1.0, 2.0], jnp.float32)}
    loss = lambda p: jnp.sum(jnp.tanh(p["w"]) ** 2)
    manual = lambda p: {"w": 2 * jnp.tanh(p["w"]) * (1 - jnp.tanh(p["w"]) ** 2)}
    report = gc.check_grads(manual, loss, params)
    assert report.dtype == "float32" and report.rtol == gc.TOLERANCES["float32"][0]
    assert report.passed, str(report)
    assert 0 < report.rows[0].max_rel_err_fd < 1e-4  # float32 result against float64 differences


# --- moving off the kinks ----------------------------------------------------------------------


def test_move_off_kinks_clears_every_relu_preactivation():
    with jax.enable_x64(True):
        net = F.mlp([3, 5, 4, 2], ["relu", "tanh"], output_activation="relu", dropout=[0.5, 0.0])
        params = [{"w": jnp.zeros((3, 5)), "b": jnp.zeros(5)}]  # layer 1: pre-activations all 0
        draws = gc.Draws(jax.random.key(2), jnp.float64)
        params += gc.nontrivial_params(net, draws)[1:]
        x = draws.normal((33, 3))
        key = jax.random.key(3)

        def move(params, x, key):
            moved = gc.move_off_kinks(net, params, x, key=key, margin=1e-3)
            before = gc.min_kink_distance(net, params, x, key=key)
            return moved, before, gc.min_kink_distance(net, moved, x, key=key)

        moved, before, after = gc.compile_once(move, params, x, key)(params, x, key)
        assert float(before) == 0.0
        assert float(after) >= 1e-3 * (1 - 1e-9)
        np.testing.assert_array_equal(moved[1]["b"], params[1]["b"])  # tanh layer untouched
        for old, new in zip(params, moved):
            np.testing.assert_array_equal(old["w"], new["w"])
            assert np.max(np.abs(np.asarray(new["b"]) - np.asarray(old["b"]))) <= 2e-3 * 35


# --- the command -------------------------------------------------------------------------------


def test_command_table_and_exit_status(capsys):
    assert funcnn_cli.main(["gradcheck", "--model", "perceptron"]) == 0
    out = capsys.readouterr().out
    for col in (
        "model",
        "activation",
        "loss",
        "leaf",
        "shape",
        "max abs err",
        "max rel err (autodiff)",
        "max rel err (fd)",
        "pass",
    ):
        assert col in out
    assert out.count("perceptron") >= 4 and "gradient is exactly 0" in out and "all passed" in out


def test_command_json_rows(capsys):
    assert cli.main(["--model", "nadaraya_watson", "--json", "--dtype", "float32"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["leaf"] for r in rows] == ["['keys']", "['queries']", "['values']"]
    for r in rows:
        assert r["model"] == "nadaraya_watson" and r["loss"] == "mse" and r["pass"] is True
        assert r["shape"] in ([4], [5]) and r["max_rel_err"] <= 1e-4 and r["max_rel_err_fd"] <= 1e-4


def test_command_exits_1_when_a_row_fails(monkeypatch, capsys):
    broken = gc.Case(
        "broken",
        "mlp",
        "tanh",
        "mse",
        lambda key, dtype: (_sign_flip, _loss, *_net_inputs(key, dtype)),
    )
    monkeypatch.setattr(cli, "CASES", (broken,))
    assert cli.main(["--model", "broken"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 FAILED" in out


def _net_inputs(key, dtype):
    draws = gc.Draws(key, dtype)
    params = gc.nontrivial_params(NET, draws)
    return params, (draws.normal((5, 3)), draws.normal((5, 2)))


def test_command_rejects_an_unknown_model(capsys):
    assert cli.main(["--model", "resnet"]) == 2
    assert "unknown --model 'resnet'" in capsys.readouterr().err
