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


def _float32_ids():
    """Every row runs in float64; float32 runs the same code on a subset: each model once, the
    variants of a convolution or recurrent block (padding, stride, dilation, truncation, the
    states returned: index arithmetic the dtype does not change) once per block, and every
    activation and every loss at least once."""
    seen, ids = set(), []
    for case_id, c in zip(CASE_IDS, CASES):
        model = c.model.split("[")[0] if c.group in ("cnn", "rnn") else c.model
        keys = {("model", model), ("loss", c.loss)}
        keys |= {("activation", a) for a in c.activation.split("/")}
        if not keys <= seen:
            ids.append(case_id)
            seen |= keys
    return ids


FLOAT32_IDS = _float32_ids()
PARAMS = [(i, "float64") for i in CASE_IDS] + [(i, "float32") for i in FLOAT32_IDS]


@functools.cache
def _reports(dtype):
    # Finite differences are float64 whatever the dtype under test: run them once, with float64.
    selected = CASES if dtype == "float64" else [CASE_BY_ID[i] for i in FLOAT32_IDS]
    ids = CASE_IDS if dtype == "float64" else FLOAT32_IDS
    return dict(zip(ids, gc.run_cases(selected, dtype, seed=0, fd=dtype == "float64")))


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


def test_float32_covers_every_block_activation_and_loss():
    subset = [CASE_BY_ID[i] for i in FLOAT32_IDS]
    assert {c.group for c in subset} == {c.group for c in CASES}
    assert {c.model for c in subset} >= {c.model for c in CASES if c.group not in ("cnn", "rnn")}
    blocks = {c.model.split("[")[0] for c in CASES}
    assert {c.model.split("[")[0] for c in subset} == blocks >= {"conv", "gru", "bidirectional gru"}
    assert {c.loss for c in subset} == {c.loss for c in CASES}
    assert {c.activation for c in subset} >= set(ACTIVATIONS)


@pytest.mark.parametrize("case_id,dtype", PARAMS, ids=[f"{i}-{d}" for i, d in PARAMS])
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
