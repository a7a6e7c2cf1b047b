"""funcnn.train.tune: the search picks by validation only, never touches the test split, and
writes what it found; the table of spaces holds the points the recipes came from."""

import json

import numpy as np
import pytest

from funcnn.data import Augment, Dataset, load
from funcnn.train import MODELS, RECIPES, Recipe
from funcnn.train.tune import (
    SPACES,
    Space,
    check_space,
    point_recipe,
    recipe_source,
    space_for,
    tune,
    write_result,
)

IRIS = load("iris")
# Plain SGD at a constant rate: what the grid's value does is then easy to predict.
SGD = {"optimizer": "sgd", "schedule": "constant", "weight_decay": 0.0, "batch_size": 16}


def _space(values, epochs=8, **kw):
    return Space({"epochs": (epochs,)}, ("lr", values), (0, 1), run=SGD, **kw)


def test_the_best_validation_point_is_chosen():
    # lr 1e-7 leaves the model at its initialization (about chance); 0.1 learns iris.
    r = tune(
        "softmax_regression", IRIS, space=_space((1e-7, 0.1)), final_seeds=None, progress=False
    )
    assert [p.value for p in r.points] == [1e-7, 0.1]
    assert r.best == 1 and r.recipe.run["lr"] == 0.1 and r.test is None
    low, high = (p.score[0] for p in r.points)
    assert high > 0.8 > low + 0.2
    assert r.points[1].val_accuracy.shape == (2,)  # one per seed


def test_a_diverging_value_is_recorded_and_the_others_train():
    data = load("diabetes")
    space = Space({"epochs": (3,)}, ("lr", (1e30, 1e-2)), (0, 1), run=SGD)
    r = tune("linear_regression", data, space=space, final_seeds=None, progress=False)
    bad, good = r.points
    assert "non-finite training loss" in bad.diverged and bad.val_loss is None
    assert good.diverged is None and np.all(np.isfinite(good.val_loss))
    assert good.val_accuracy is None and r.best == 1  # regression: the lowest validation loss


def _with_test(data, x_test, y_test):
    return data._replace(x_test=x_test, y_test=y_test)


def test_the_search_never_sees_the_test_split():
    kw = dict(space=_space((0.03, 0.1)), progress=False)
    clean = tune("mlp", IRIS, final_seeds=(0, 1), **kw)
    # NaN test inputs: the engine refuses them wherever it is given them; the search is not.
    nan = _with_test(IRIS, IRIS.x_test * np.nan, IRIS.y_test)
    poisoned = tune("mlp", nan, final_seeds=None, **kw)
    # Wrong test labels change the test figure, never the search or the choice.
    wrong = _with_test(IRIS, IRIS.x_test, (IRIS.y_test + 1) % 3)
    mislabeled = tune("mlp", wrong, final_seeds=(0, 1), **kw)
    for other in (poisoned, mislabeled):
        for a, b in zip(clean.points, other.points):
            np.testing.assert_array_equal(a.val_accuracy, b.val_accuracy)
            np.testing.assert_array_equal(a.val_loss, b.val_loss)
        assert other.best == clean.best and other.recipe == clean.recipe
    assert clean.test["mean"] > 0.5 > mislabeled.test["mean"]


def test_tune_json_holds_every_point_and_the_choice(tmp_path):
    # The configuration of the test above: its compiled programs are reused.
    r = tune("mlp", IRIS, space=_space((0.03, 0.1)), final_seeds=(0, 1), progress=False)
    path = write_result(r, tmp_path / "out" / "tune.json")
    m = json.loads(open(path).read())
    assert {"model", "dataset", "budget", "space", "points", "best", "recipe", "test"} <= set(m)
    assert {"versions", "device", "recipe_source", "search_time_s", "wall_time_s"} <= set(m)
    assert m["budget"] == "custom" and m["grid_name"] == "lr"
    assert len(m["points"]) == 2 and [p["chosen"] for p in m["points"]].count(True) == 1
    for p in m["points"]:
        assert p["group"] == {"epochs": 8} and len(p["val_accuracy"]) == 2
        assert p["val_accuracy_mean"] == pytest.approx(np.mean(p["val_accuracy"]))
    assert m["points"][m["best"]]["chosen"]
    assert m["space"]["grid"] == {"name": "lr", "values": [0.03, 0.1]}
    assert m["test"]["seeds"] == [0, 1] and len(m["test"]["test_accuracy"]) == 2
    assert m["recipe"]["run"]["lr"] == m["points"][m["best"]]["lr"]
    assert not [f for f in (tmp_path / "out").iterdir() if f.name.startswith(".")]


def test_the_printed_recipe_is_the_recipe():
    recipe = Recipe(
        {"hidden": (256, 256), "activation": "relu", "dropout": 0.1},
        {**RECIPES["mlp"].run, "lr": 7e-3, "augment": Augment(shift=8, scale=0.2, noise=0.05)},
    )
    text = recipe_source("mlp", recipe)
    pasted = eval("{" + text + "}", {"Recipe": Recipe, "Augment": Augment})
    assert pasted == {"mlp": recipe}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_has_a_valid_space_for_every_budget(model):
    assert set(SPACES[model]) == {"tiny", "quick", "full"}
    for space in SPACES[model].values():
        check_space(model, space)
        assert space.n_points == len(space.groups()) * len(space.grid[1])


def test_the_mlp_recipe_is_the_one_its_search_chose():
    # funcnn tune --model mlp (funcnn/train/registry.py): dropout 0.1, MNIST-1D's augmentation,
    # 120 epochs, lr 7e-3; the rest is the first MNIST-1D recipe, which the dense models keep.
    mlp, dense = RECIPES["mlp"], RECIPES["softmax_regression"]
    assert mlp.model == {"hidden": (256, 256), "activation": "relu", "dropout": 0.1}
    augment = Augment(shift=8, scale=0.2, noise=0.05)
    assert dict(mlp.run) == {**dense.run, "epochs": 120, "lr": 7e-3, "augment": augment}
    assert dense.run["epochs"] == 50 and dense.run["augment"] is None


@pytest.mark.parametrize("model", ["mlp", "cnn", "gru", "rnn"])
def test_the_full_spaces_contain_the_recipes(model):
    space = SPACES[model]["full"]
    points = [point_recipe(model, space, g, v) for g in space.groups() for v in space.grid[1]]
    assert RECIPES[model] in points


@pytest.mark.parametrize(
    "space,match",
    [
        (Space({"width": (1,)}, ("lr", (0.1,))), "space axes 'width' is neither an option"),
        (Space({}, ("lr", (0.1,)), run={"lr": 0.1}), "'lr' is the grid of the space"),
        (Space({}, ("lr", (0.1,)), run={"seeds": (1,)}), "space run 'seeds'"),
        (Space({}, ("beta", (0.1,))), "unknown grid hyperparameter 'beta'"),
        (Space({}, ("lr", ())), "the grid over 'lr' needs at least one value"),
        (Space({"dropout": ()}, ("lr", (0.1,))), "space axis 'dropout' needs a non-empty"),
        (Space({}, ("lr", (0.1,)), val_fraction=0.0), "val_fraction must be > 0"),
    ],
)
def test_bad_spaces_get_a_clear_error(space, match):
    with pytest.raises(ValueError, match=match):
        check_space("mlp", space)


def test_bad_names_get_a_clear_error():
    with pytest.raises(ValueError, match="unknown budget 'huge'"):
        space_for("mlp", "huge")
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        tune("nope", IRIS, progress=False)
    no_val = Dataset(IRIS.x_train, IRIS.y_train, None, None, 3, "iris")
    from funcnn.train.tune import search

    with pytest.raises(ValueError, match="search needs a dataset with a validation split"):
        search("mlp", no_val, _space((0.1,)), progress=False)
