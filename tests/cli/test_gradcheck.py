"""``funcnn gradcheck``: the table, the JSON rows, the exit status and its errors."""

import json

import jax
import numpy as np

from funcnn import cli as funcnn_cli
from funcnn import gradcheck as gc
from funcnn import gradcheck_cli as cli
from tests.gradcheck import common as wg


def test_command_table_and_exit_status(capsys):
    assert funcnn_cli.main(["gradcheck", "--model", "perceptron"]) == 0
    out = capsys.readouterr().out
    for col in ("model", "activation", "loss", *wg.TABLE_HEADERS):
        assert col in out
    assert out.startswith("funcnn gradcheck: 2 combinations, float64, seed 0.")
    assert out.count("perceptron") >= 4 and "gradient is exactly 0" in out
    assert "4 rows, all passed" in out  # two losses x {w, b}


def test_command_json_rows_are_the_cases_rows(capsys):
    assert cli.main(["--model", "nadaraya_watson", "--json", "--dtype", "float32"]) == 0
    rows = json.loads(capsys.readouterr().out)
    (case,) = [c for c in gc.CASES if c.group == "nadaraya_watson"]
    params = gc.build_case(case, "float32", seed=0).params
    assert [r["leaf"] for r in rows] == ["['keys']", "['queries']", "['values']"]
    for r in rows:
        assert r["model"] == "nadaraya_watson" and r["loss"] == "mse" and r["pass"] is True
        assert r["shape"] == list(params[r["leaf"][2:-2]].shape)
        assert r["max_rel_err"] <= 1e-4 and r["max_rel_err_fd"] <= 1e-4


def test_command_exits_1_when_a_row_fails(monkeypatch, capsys):
    broken = gc.Case(
        "broken",
        "mlp",
        "tanh",
        "mse",
        lambda key, dtype: (wg.sign_flip, wg.loss, *wg.net_inputs(key, dtype)),
    )
    monkeypatch.setattr(cli, "CASES", (broken,))
    assert cli.main(["--model", "broken"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 FAILED" in out


def test_command_seed_changes_the_draws(capsys):
    rows = []
    for seed in ("0", "1"):
        assert cli.main(["--model", "linear_regression", "--json", "--seed", seed]) == 0
        rows.append(json.loads(capsys.readouterr().out))
    assert [r["leaf"] for r in rows[0]] == [r["leaf"] for r in rows[1]]
    assert [r["grad_scale"] for r in rows[0]] != [r["grad_scale"] for r in rows[1]]
    assert np.all([r["pass"] for r in rows[0] + rows[1]])
    assert jax.config.jax_enable_x64 is False  # the command leaves x64 as it found it


def test_command_rejects_an_unknown_model(capsys):
    assert cli.main(["--model", "resnet"]) == 2
    assert "unknown --model 'resnet'" in capsys.readouterr().err
