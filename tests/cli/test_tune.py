"""``funcnn tune`` end to end on its tiny budget (in-process through funcnn.cli.main), and its
errors."""

import json

import pytest

from funcnn.cli import main
from funcnn.io import to_jsonable
from funcnn.train.tune import SPACES

BASE = ["tune", "--dataset", "iris", "--budget", "tiny", "--no-progress"]


def test_tune_runs_end_to_end(tmp_path, capsys):
    model, out = "mlp", tmp_path / "mlp"
    assert main([*BASE, "--model", model, "--final-seeds", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    m = json.loads((out / "tune.json").read_text())
    space = SPACES[model]["tiny"]
    assert m["model"] == model and m["budget"] == "tiny" and m["dataset"] == "iris"
    assert len(m["points"]) == space.n_points and m["points"][m["best"]]["chosen"]
    assert m["test"]["seeds"] == [0, 1] and len(m["test"]["test_accuracy"]) == 2
    grid = space.grid[0]
    assert f"{model} on iris, budget tiny: {space.n_points} points x 2 seeds" in text
    assert f"epochs  {grid}" in text and "val acc" in text  # the table's header
    assert "chosen (row *): validation accuracy" in text
    assert f"'{model}': Recipe(" in text and f"'{grid}': " in text  # to paste into RECIPES
    assert "test_accuracy of the choice on the whole training set (once): mean" in text
    assert m["recipe_source"] in text and f"wrote {out / 'tune.json'}" in text


@pytest.mark.slow  # compiling the hand-written convolutional and recurrent backward passes
@pytest.mark.parametrize("model", ["cnn", "gru"])
def test_search_only_for_the_sequence_models(tmp_path, capsys, model):
    out = tmp_path / model
    assert main([*BASE, "--model", model, "--final-seeds", "0", "--out", str(out)]) == 0
    m = json.loads((out / "tune.json").read_text())
    assert m["test"] is None and m["model"] == model
    tiny = to_jsonable(SPACES[model]["tiny"].model)
    assert m["recipe"]["model"] == {**m["recipe"]["model"], **tiny}
    text = capsys.readouterr().out
    assert f"'{model}': Recipe(" in text and "test_accuracy" not in text


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "nope"], "--model must be one of mlp, logistic_regression"),
        (["--budget", "huge"], "--budget must be one of tiny, quick, full; got 'huge'"),
        (["--final-seeds", "-1"], "--final-seeds must be a non-negative integer; got -1"),
        (["--model", "linear_regression"], "needs a regression dataset; iris has 3 classes"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
    ],
)
def test_bad_arguments_name_the_flag(tmp_path, capsys, args, message):
    assert main([*BASE, "--out", str(tmp_path / "bad"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
