"""The search spaces of :mod:`funcnn.train.tune`: one :class:`Space` per model and budget."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any, NamedTuple

from funcnn import checks
from funcnn.data import Augment
from funcnn.io import to_jsonable
from funcnn.train.config import GRID_NAMES, RunConfig
from funcnn.train.registry import MNIST1D_AUGMENT, MODELS

#: The seeds the chosen recipe trains with on the whole training set, for its test figure.
FINAL_SEEDS = (0, 1, 2, 3)

#: Budgets, cheapest first.
BUDGETS = ("tiny", "quick", "full")

# RunConfig fields a space may not set: they are the search's own (or bookkeeping).
_NOT_SEARCHED = frozenset(
    {"seed", "seeds", "grid", "checkpoint_dir", "checkpoint_every", "resume", "progress"}
    | {"early_stopping_patience", "eval_train"}
)
_RUN_FIELDS = frozenset(f.name for f in dataclasses.fields(RunConfig)) - _NOT_SEARCHED


class Space(NamedTuple):
    """One model's search space.

    Attributes:
        axes: static axes, ``name -> values``: the groups are their product, in order (the
            last axis varies fastest). A name is an option of the model
            (``MODELS[model].options``) or a :class:`RunConfig` field (``epochs``,
            ``augment``, ``label_smoothing``, ...).
        grid: ``(name, values)``, name in ``GRID_NAMES``: trained at once (vmapped) in every
            group.
        seeds: the seeds of every point.
        run: :class:`RunConfig` fields fixed for the whole search, over the model's recipe.
        model: model options fixed for the whole search, over the recipe's.
        val_fraction: the fraction of the training set held out for validation.
    """

    axes: Mapping[str, tuple]
    grid: tuple[str, tuple[float, ...]]
    seeds: tuple[int, ...] = (0, 1, 2)
    run: Mapping[str, Any] = {}
    model: Mapping[str, Any] = {}
    val_fraction: float = 0.1

    def groups(self) -> list[dict[str, Any]]:
        """Every combination of the static axes, as ``{name: value}``."""
        names = list(self.axes)
        return [dict(zip(names, values)) for values in itertools.product(*self.axes.values())]

    @property
    def n_points(self) -> int:
        return len(self.groups()) * len(self.grid[1])

    def to_dict(self) -> dict[str, Any]:
        out = self._asdict()
        out["axes"] = {k: [plain(v) for v in vs] for k, vs in self.axes.items()}
        out["grid"] = {"name": self.grid[0], "values": list(self.grid[1])}
        out["run"] = {k: plain(v) for k, v in self.run.items()}
        out["model"] = {k: plain(v) for k, v in self.model.items()}
        return to_jsonable(out)


def plain(value):
    return value.to_config() if isinstance(value, Augment) else value


# Augmentations of MNIST-1D's own generative process (funcnn.data.augment): a circular shift
# of up to 8 (the recipes' MNIST1D_AUGMENT) or 16 of 40 samples, 20% in scale, white noise
# of std 0.05.
SHIFT8 = MNIST1D_AUGMENT
SHIFT16 = Augment(shift=16, scale=0.2, noise=0.05)

_TINY_MODEL = {
    "mlp": {"hidden": (16,)},
    "cnn": {"channels": (4, 8), "strides": (1, 2), "kernel_size": 3},
    "gru": {"hidden_size": 8},
    "rnn": {"hidden_size": 8},
}


def _tiny(model: str, grid_name: str, values: tuple[float, float]) -> Space:
    return Space(
        {"epochs": (2,)},
        (grid_name, values),
        (0, 1),
        run={"batch_size": 32},
        model=_TINY_MODEL.get(model, {}),
    )


_DENSE = {
    "full": Space({}, ("lr", (1e-3, 7e-3, 3e-2))),
    "quick": Space({}, ("lr", (1e-3, 7e-3, 3e-2)), (0, 1)),
}
_RECURRENT = {
    "full": Space(
        {"hidden_size": (64, 96), "chunk": (2, 4), "epochs": (60,)},
        ("weight_decay", (0.003, 0.01, 0.03)),
    ),
    "quick": Space(
        {"hidden_size": (96,), "chunk": (2, 4), "epochs": (30,)},
        ("weight_decay", (0.003, 0.01, 0.03)),
        (0, 1),
    ),
}

#: ``SPACES[model][budget]``: the search space of each model and budget (module docstring).
SPACES: dict[str, dict[str, Space]] = {
    "mlp": {
        "full": Space(
            {
                "dropout": (0.0, 0.1, 0.3),
                "augment": (None, SHIFT8, SHIFT16),
                "epochs": (120,),
            },
            ("lr", (3e-3, 7e-3, 1.5e-2)),
            (0, 1),
        ),
        "quick": Space(
            {"dropout": (0.1,), "augment": (None, SHIFT8, SHIFT16), "epochs": (120,)},
            ("lr", (3e-3, 7e-3, 1.5e-2)),
            (0, 1),
        ),
        "tiny": _tiny("mlp", "lr", (3e-3, 1e-2)),
    },
    "logistic_regression": {**_DENSE, "tiny": _tiny("logistic_regression", "lr", (3e-3, 3e-2))},
    "softmax_regression": {**_DENSE, "tiny": _tiny("softmax_regression", "lr", (3e-3, 3e-2))},
    # AdamW on raw regression targets (diabetes: mean 152) needs large steps to move the bias
    # in its ~150 updates; the decay is searched too.
    "linear_regression": {
        "full": Space({"weight_decay": (0.0, 0.05)}, ("lr", (1.0, 3.0, 10.0, 30.0))),
        "quick": Space({}, ("lr", (1.0, 3.0, 10.0, 30.0)), (0, 1)),
        "tiny": _tiny("linear_regression", "lr", (3e-3, 3e-2)),
    },
    "cnn": {
        "full": Space(
            {
                "dropout": (0.1, 0.2),
                "label_smoothing": (0.0, 0.1),
                "augment": (None, SHIFT8),
                "epochs": (60,),
            },
            ("lr", (3e-3, 6e-3, 1e-2)),
        ),
        "quick": Space(
            {"augment": (None, SHIFT8), "epochs": (30,)}, ("lr", (3e-3, 6e-3, 1e-2)), (0, 1)
        ),
        "tiny": _tiny("cnn", "lr", (3e-3, 1e-2)),
    },
    "gru": {**_RECURRENT, "tiny": _tiny("gru", "weight_decay", (0.01, 0.03))},
    "rnn": {**_RECURRENT, "tiny": _tiny("rnn", "weight_decay", (0.01, 0.03))},
}


def check_space(model: str, space: Space) -> Space:
    """``space`` if it is a valid search space of ``model``, else a ``ValueError`` naming
    the bad setting."""
    if not isinstance(space, Space):
        raise TypeError(f"space must be a funcnn.train.tune.Space; got {type(space).__name__}.")
    options = set(MODELS[model].options)
    for where, names in (("axes", space.axes), ("run", space.run), ("model", space.model)):
        for name in names:
            valid = {"axes": options | _RUN_FIELDS, "run": _RUN_FIELDS, "model": options}[where]
            if name not in valid:
                raise ValueError(
                    f"space {where} {name!r} is neither an option of model {model!r} nor a "
                    f"searchable RunConfig field; valid: {', '.join(sorted(valid))}."
                )
    for name, values in space.axes.items():
        if not isinstance(values, tuple | list) or not values:
            raise ValueError(f"space axis {name!r} needs a non-empty tuple of values.")
    grid_name, values = space.grid
    checks.check_choice(grid_name, GRID_NAMES, "grid hyperparameter")
    if grid_name in space.axes or grid_name in space.run:
        raise ValueError(f"{grid_name!r} is the grid of the space; it cannot also be fixed.")
    if not values:
        raise ValueError(f"the grid over {grid_name!r} needs at least one value.")
    checks.check_fraction(space.val_fraction, "val_fraction")
    if space.val_fraction == 0:
        raise ValueError("val_fraction must be > 0: the search scores points on validation.")
    return space


def space_for(model: str, budget: str) -> Space:
    """The search space of ``model`` for ``budget`` (:data:`SPACES`)."""
    checks.check_choice(model, SPACES, "model")
    spaces = SPACES[model]
    checks.check_choice(budget, spaces, "budget")
    return spaces[budget]
