"""funcnn.gradcheck.cases: the table ``funcnn gradcheck`` runs covers every model x activation x
loss, and every row passes — the hand-written gradient of each against jax.grad and finite
differences (float64 to 1e-10 and 1e-6, float32 to 1e-4)."""

import functools

import numpy as np
import pytest

import funcnn as F
from funcnn import gradcheck as gc
from funcnn.activations import ACTIVATIONS

CASES = gc.cases()
CASE_IDS = [f"{c.model}-{c.activation}-{c.loss}".replace(" ", "_") for c in CASES]
CASE_BY_ID = dict(zip(CASE_IDS, CASES))
TOL = {"float64": (1e-10, 1e-6), "float32": (1e-4, 1e-4)}  # (vs jax.grad, vs finite diffs)
MAX_FD_COORDS = 32  # check_many's default: leaves with more entries are sampled


@functools.cache
def _reports(dtype):
    # Finite differences are float64 whatever the dtype under test: run them once, with float64.
    return dict(zip(CASE_IDS, gc.run_cases(CASES, dtype, seed=0, fd=dtype == "float64")))


def test_cases_cover_every_model_activation_and_loss():
    assert len(set(CASE_IDS)) == len(CASE_IDS)
    models = {c.group for c in CASES}
    assert set(F.MODELS) <= models
    assert {"serial", "parametric_nw", "nadaraya_watson", "dot_product_attention"} <= models
    assert {"cnn", "rnn"} <= models
    mlp = {(c.activation, c.loss) for c in CASES if c.model == "mlp"}
    assert mlp == {(a, l) for a in ACTIVATIONS for l in F.LOSSES}
    assert gc.groups() == list(dict.fromkeys(c.group for c in CASES))
    assert gc.cases() == list(gc.CASES)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_manual_equals_autodiff_and_finite_differences(case_id, dtype):
    report = _reports(dtype)[case_id]
    rtol, fd_rtol = TOL[dtype]
    assert report.dtype == dtype
    for row in report.rows:
        assert "structure mismatch" not in row.note, row
        assert row.max_rel_err <= rtol, str(report)
        if dtype == "float64" and CASE_BY_ID[case_id].fd:
            assert row.max_rel_err_fd is not None and row.max_rel_err_fd <= fd_rtol, str(report)
            # Every entry of a small leaf, a sample of a larger one.
            assert row.fd_coords == min(int(np.prod(row.shape)), MAX_FD_COORDS), row
        else:  # float32 (the differences ran with float64) and rows without differences
            assert row.max_rel_err_fd is None and row.fd_coords == 0, row
    scales = [row.grad_scale for row in report.rows]
    if case_id.startswith("perceptron"):
        assert scales == [0.0] * len(scales)  # the step: zero gradient everywhere, by design
        assert all("exactly 0" in row.note for row in report.rows)
    else:
        assert max(scales) > 1e-3, "a case whose gradient is zero checks nothing"


def test_each_case_draws_from_its_own_name():
    assert gc.hash_name("mlp|relu|mse") == gc.hash_name("mlp|relu|mse") < 2**31 - 1
    assert gc.hash_name("mlp|relu|mse") != gc.hash_name("mlp|relu|sum_squared_error")
    case = next(c for c in CASES if c.model == "softmax_regression")
    a, b = gc.build_case(case, "float32", seed=0), gc.build_case(case, "float32", seed=0)
    np.testing.assert_array_equal(a.params[0]["w"], b.params[0]["w"])
    other = gc.build_case(case, "float32", seed=1)
    assert not np.allclose(a.params[0]["w"], other.params[0]["w"])
    assert a.context == {"model": "softmax_regression", "activation": "identity",
                         "loss": "softmax_cross_entropy"}  # fmt: skip
