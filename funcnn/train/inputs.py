"""A model, a dataset and a :class:`~funcnn.train.config.RunConfig` made ready to train.

The engine knows a model only through its interface: ``model.input_shape`` and
``model.output_shape`` (one example's shapes), ``model.init``/``model.apply``,
``model.stochastic``, ``model.kind`` and ``model.to_config()``. Here the loss is inferred
from the output shape and the dataset, the splits are validated against the model's shapes
and put on device, and the settings that depend on the data (batch size, early stopping)
are checked.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from funcnn import checks
from funcnn.train.config import RunConfig


class Prepared(NamedTuple):
    """A run made ready by :func:`prepare`.

    Attributes:
        config: the configuration with its loss resolved (inferred if it was None).
        splits: ``{"train": (x, y), "val": ..., "test": ...}`` on device, validated; ``x``
            is ``(n, *model.input_shape)``, ``y`` as the loss takes it.
        n_batches: updates per epoch, ``n_train // batch_size``.
        record: the run's configuration as JSON (model, dataset, ``n_train``, ``devices`` and
            ``config.to_dict()``): saved with every checkpoint and in the result.
    """

    config: RunConfig
    splits: dict[str, tuple]
    n_batches: int
    record: dict[str, Any]


def resolve_dataset(dataset):
    """A ``funcnn.data.Dataset`` as is, or the dataset of that name (``funcnn.data.load``)."""
    if isinstance(dataset, str):
        from funcnn.data import load

        return load(dataset)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        if not hasattr(dataset, field):
            raise TypeError(
                "dataset must be a funcnn.data.Dataset (or a name for funcnn.data.load); "
                f"got {type(dataset).__name__} without {field!r}."
            )
    return dataset


def _n_out(model) -> int:
    """The number of outputs of one example (its last axis)."""
    shape = tuple(model.output_shape)
    return int(shape[-1]) if shape else 1


def infer_loss(model, n_classes) -> str:
    """The loss a model and a dataset call for.

    Regression (``n_classes`` None): "mse". Two classes and one output: the logit of class 1,
    "binary_cross_entropy". Otherwise "softmax_cross_entropy" over ``n_classes`` logits.
    """
    if model.kind == "perceptron":
        raise ValueError(
            "the perceptron's heaviside output has zero gradient and cannot be trained by "
            "gradient descent; use funcnn.perceptron_epoch (Rosenblatt's rule)."
        )
    n_out = _n_out(model)
    if n_classes is None:
        return "mse"
    if n_classes == 2 and n_out == 1:
        return "binary_cross_entropy"
    if n_out != n_classes:
        raise ValueError(
            f"the model has {n_out} outputs but the dataset has {n_classes} classes; build the "
            f"model with {n_classes} outputs (or 1 for two classes)."
        )
    return "softmax_cross_entropy"


def _shape_text(example_shape) -> str:
    return "(" + ", ".join(["n", *(str(d) for d in example_shape)]) + ")"


def prepare_targets(y, loss: str, output_shape, dtype, name: str = "y"):
    """Targets in the form ``loss`` takes: int labels ``(n,)`` for softmax cross-entropy
    (or its one-hot/soft targets ``(n, *output_shape)``), float ``(n, *output_shape)`` for
    the others (1-D targets become a column when the output is one number).

    ``output_shape`` is one example's output shape; an int ``n_out`` means ``(n_out,)``.
    """
    output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
    n_out = output_shape[-1] if output_shape else 1
    y = np.asarray(y)
    if loss == "softmax_cross_entropy" and y.ndim == len(output_shape):
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{name} must hold integer class labels; got dtype {y.dtype}.")
        if y.size and (y.min() < 0 or y.max() >= n_out):
            bad = y.min() if y.min() < 0 else y.max()
            raise ValueError(f"{name} must lie in [0, {n_out - 1}]; found label {bad}.")
        return jnp.asarray(y, jnp.int32)
    if loss != "softmax_cross_entropy" and y.ndim == 1 and output_shape != (1,):
        raise ValueError(
            f"{name} has shape {y.shape} but the model has {n_out} outputs; give targets of "
            f"shape {_shape_text(output_shape)}."
        )
    if loss != "softmax_cross_entropy" and y.ndim == 1:
        y = y[:, None]
    if y.shape[1:] != output_shape:
        raise ValueError(
            f"{name} must have shape {_shape_text(output_shape)} for loss {loss!r}; got {y.shape}."
        )
    return jnp.asarray(y, dtype)


def prepare_inputs(x, model, dtype, name: str = "x"):
    """Inputs ``(n, *model.input_shape)``, finite, on device in ``dtype``."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[1:] != tuple(model.input_shape):
        raise ValueError(
            f"{name} must have shape {_shape_text(model.input_shape)} for this model; "
            f"got {x.shape}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return jnp.asarray(x, dtype)


def make_splits(data, model, loss, dtype) -> dict[str, tuple]:
    """``{"train": (x, y), "val": ..., "test": ...}`` on device, validated (empty
    validation or test sets are left out)."""
    out = {}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}", None), getattr(data, f"y_{split}", None)
        if x is None and y is None:
            continue
        if x is None or y is None:
            raise ValueError(f"dataset has only one of x_{split} and y_{split}.")
        if len(x) != len(y):
            raise ValueError(
                f"x_{split} and y_{split} must have the same length; got {len(x)} and {len(y)}."
            )
        if len(x) == 0:
            if split == "train":
                raise ValueError("the training set is empty.")
            continue
        xs = prepare_inputs(x, model, dtype, f"x_{split}")
        if isinstance(loss, str):
            ys = prepare_targets(y, loss, model.output_shape, dtype, f"y_{split}")
        else:
            ys = jnp.asarray(y)
        out[split] = (xs, ys)
    return out


def prepare(model, data, config: RunConfig, *, devices: int = 1) -> Prepared:
    """Resolve the loss, validate and place the splits, check the data-dependent settings
    (``batch_size`` at most ``n_train``; early stopping needs a validation split)."""
    if config.loss is None:
        config = config.replace(loss=infer_loss(model, getattr(data, "n_classes", None)))
    splits = make_splits(data, model, config.loss, config.dtype)
    n_train = int(splits["train"][0].shape[0])
    checks.check_batch_size(config.batch_size, n_train)  # n_train: full-batch GD
    if config.early_stopping_patience is not None and "val" not in splits:
        raise ValueError(
            "early_stopping_patience needs a validation set: load the dataset with "
            "val_fraction > 0 (funcnn.data.load(name, val_fraction=0.1))."
        )
    record = {
        "model": model.to_config(),
        "dataset": getattr(data, "name", None),
        "n_train": n_train,
        "devices": devices,
        **config.to_dict(),
    }
    return Prepared(config, splits, n_train // config.batch_size, record)
