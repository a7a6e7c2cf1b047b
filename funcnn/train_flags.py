"""The flags of ``funcnn train``: the tables :data:`FLAGS` (by help section) and
:data:`DEFAULTS` (each flag's default: the MLP recipe's), read by :mod:`funcnn.train_cli`.

A flag whose default is a recipe's shows every model's value in its help where the recipes
differ.
"""

from __future__ import annotations

import argparse

from funcnn.activations import ACTIVATIONS
from funcnn.data import Augment
from funcnn.train import (
    MODELS,
    OPTIMIZERS,
    RECIPES,
    SCHEDULES,
    distributed,
)
from funcnn.train.optim import CONVENTIONS, IMPLS
from funcnn.train.step import UPDATES


def _float_or_none(text: str):
    return None if text.lower() in ("none", "off", "0") else float(text)


# Flags whose default is the chosen model's recipe: RunConfig fields ...
RUN_FLAGS = {
    "optimizer": dict(choices=sorted(OPTIMIZERS), help="the update rule"),
    "lr": dict(type=float, help="base (peak) learning rate"),
    "schedule": dict(choices=sorted(SCHEDULES), help="learning-rate schedule over all updates"),
    "warmup_steps": dict(type=int, help="linear warm-up updates before the schedule"),
    "momentum": dict(type=float, help="coefficient of the momentum/nesterov optimizers"),
    "weight_decay": dict(type=float, help="decoupled weight decay lambda, weights only"),
    "l2": dict(type=float, help="L2 penalty in the loss"),
    "l1": dict(type=float, help="L1 penalty in the loss"),
    "clip_norm": dict(type=_float_or_none, help="clip gradients to this global norm (0: off)"),
    "epochs": dict(type=int, help="passes over the training set"),
    "batch_size": dict(type=int, help="minibatch size"),
    "grad": dict(
        choices=("autodiff", "manual"), help="gradients from jax.grad or from funcnn.backprop"
    ),
    "label_smoothing": dict(type=float, help="train on (1 - eps) one_hot + eps / classes"),
    "augment": dict(
        metavar="SPEC",
        help="random copies of every training batch, e.g. shift=8,scale=0.2,noise=0.05 "
        "(also shear=); none: off",
    ),
}
# ... RunConfig fields that no recipe sets (default: RunConfig's) ...
RULE_FLAGS = {
    "optimizer_impl": dict(
        choices=sorted(IMPLS),
        help="optax's optimizers, or funcnn's written from the papers (default: optax)",
    ),
    "conventions": dict(
        choices=sorted(CONVENTIONS),
        help="conventions of funcnn's optimizers (default: paper; optax's with optax)",
    ),
    "layer_lr": dict(
        metavar="C1,C2,...",
        help="learning-rate multiplier of each layer (one per entry of the params list)",
    ),
    "update": dict(
        choices=sorted(UPDATES),
        help="all layers at once (u.1) or one after the other within a step (u.2) "
        "(default: simultaneous)",
    ),
}
# ... and model options (read by the models of funcnn.train.MODELS that take them).
MODEL_FLAGS = {
    "hidden": dict(help="hidden widths, comma-separated"),
    "activation": dict(choices=sorted(ACTIVATIONS), metavar="NAME", help="hidden activation"),
    "dropout": dict(
        type=float, help="drop probability after each hidden layer (cnn: before the classifier)"
    ),
    "channels": dict(help="output channels of each convolution, comma-separated"),
    "strides": dict(help="stride of each convolution, comma-separated"),
    "kernel_size": dict(type=int, help="kernel of every convolution"),
    "padding": dict(choices=("circular", "same", "valid"), help="padding of the convolutions"),
    "hidden_size": dict(type=int, help="units of the recurrent cell"),
    "chunk": dict(type=int, help="sequence samples read per recurrent step"),
    "bidirectional": dict(
        action=argparse.BooleanOptionalAction, help="a second cell over the reversed sequence"
    ),
}
INT_LISTS = ("hidden", "channels", "strides")


def _text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, Augment):
        return ",".join(f"{k}={v}" for k, v in value.to_config().items() if v)
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _recipe_flag(name: str, part: str) -> tuple[str, dict]:
    """``(flag, argparse keywords)`` with default None and the recipes' values in the help:
    ``(default: V)``, or each model's where they differ."""
    kw = RUN_FLAGS[name] if part == "run" else MODEL_FLAGS[name]
    texts = {
        m: _text(getattr(r, part)[name]) for m, r in RECIPES.items() if name in getattr(r, part)
    }
    if len(set(texts.values())) == 1:
        default = next(iter(texts.values()))
    else:
        default = ", ".join(f"{m}: {t}" for m, t in texts.items())
    return _flag(name), {**kw, "default": None, "help": f"{kw['help']} (default: {default})"}


# The MNIST-1D MLP's defaults by flag name (read by experiments and benchmarks).
DEFAULTS = dict(
    model="mlp",
    dataset="mnist1d",
    **{k: _text(v) if k == "hidden" else v for k, v in RECIPES["mlp"].model.items()},
    **RECIPES["mlp"].run,
    seed=0,
    seeds=1,
    checkpoint_every=25,
)

_MODELS_HELP = "; ".join(f"{k}: {e.help}" for k, e in MODELS.items())
FLAGS = {
    "model and data": [
        (
            "--model",
            dict(default="mlp", choices=sorted(MODELS), help=_MODELS_HELP + " (default: mlp)"),
        ),
        (
            "--dataset",
            dict(default="mnist1d", help="a name of funcnn.data.DATASETS (default: %(default)s)"),
        ),
        *[_recipe_flag(name, "model") for name in MODEL_FLAGS],
        (
            "--val-fraction",
            dict(
                type=float,
                default=0.0,
                help="hold out this fraction of the training set for validation",
            ),
        ),
        (
            "--cache-dir",
            dict(help="where MNIST-1D is cached (default: $FUNCNN_CACHE or ~/.cache/funcnn)"),
        ),
        ("--dtype", dict(default="float32", choices=("float32", "float64"))),
    ],
    "optimization (default: the model's recipe)": [
        *[_recipe_flag(name, "run") for name in RUN_FLAGS],
        *[(_flag(name), kw) for name, kw in RULE_FLAGS.items()],
        (
            "--patience",
            dict(
                type=int,
                help="early stopping after this many epochs without validation improvement "
                "(needs --val-fraction)",
            ),
        ),
    ],
    "runs, devices and output": [
        ("--seed", dict(type=int, default=0, help="(default: %(default)s)")),
        (
            "--data-seed",
            dict(
                type=int,
                help="fix the order of the training set by this seed instead of by each run's "
                "seed (with --seeds: all runs see the same batches)",
            ),
        ),
        (
            "--seeds",
            dict(
                type=int,
                default=1,
                help="train seeds seed, seed+1, ... at once with jax.vmap (default: 1)",
            ),
        ),
        (
            "--devices",
            dict(
                type=int,
                default=1,
                help="data-parallel over this many devices, 0 for all (default: 1)",
            ),
        ),
        ("--out", dict(help="output folder (default: runs/<dataset>-<model>-<time>)")),
        (
            "--checkpoint-every",
            dict(
                type=int,
                default=DEFAULTS["checkpoint_every"],
                help="checkpoint every N epochs and at the end; 0: only at the end "
                "(default: %(default)s)",
            ),
        ),
        (
            "--resume",
            dict(action="store_true", help="continue from the last complete checkpoint in --out"),
        ),
        (
            "--overwrite",
            dict(
                action="store_true",
                help="delete the checkpoints of an earlier run in --out and start afresh",
            ),
        ),
        (
            "--json",
            dict(
                action="store_true",
                help="print the final metrics as JSON on stdout (the summary goes to stderr)",
            ),
        ),
        (
            "--eval-train",
            dict(
                action="store_true",
                help="evaluate on the whole training set after every epoch (default: only at "
                "the end; the test/validation sets are evaluated every epoch)",
            ),
        ),
        ("--no-progress", dict(action="store_true", help="hide the progress bar")),
        ("--no-plot", dict(action="store_true", help="do not write learning_curves.png")),
    ],
    "processes (jax.distributed: one run data-parallel over every device of every process)": (
        distributed.FLAGS
    ),
}
