"""Models by name, and the recipe each one trains with by default.

:data:`MODELS` maps a name to a :class:`ModelEntry`: a builder
``build(input_shape, n_out, options) -> model`` (``input_shape`` is one example's shape, e.g.
``(40,)``; ``n_out`` the number of classes, or of regression targets), the task it needs and
the options it reads. :data:`RECIPES` maps the same names to a :class:`Recipe`: the default
options of the model and the default :class:`~funcnn.train.config.RunConfig` fields.
``funcnn train --model NAME`` and :func:`funcnn.train.train_and_evaluate` build from here, and
every flag a user does not give takes the chosen model's recipe.

To add a model, write its builder and add one entry to each table::

    MODELS["cnn"] = ModelEntry(_cnn, "classification", ("channels", "kernel_size"), "...")
    RECIPES["cnn"] = Recipe(model={"channels": (16, 32), "kernel_size": 5}, run={...})

(and, for new options, a flag in ``funcnn/train_cli.py``).

**The MLP recipe** (MNIST-1D: 4,000 training sequences of length 40, 10 classes) was chosen
on a validation split by ``funcnn tune --model mlp`` (:mod:`funcnn.train.tune`; its table
``SPACES["mlp"]["full"]``): 400 of the 4,000 training sequences held out, the test set unused;
the 256-256 ReLU MLP with AdamW (decoupled weight decay 0.05), a cosine decay of the learning
rate to 0 and batch 128, over dropout {0, 0.1, 0.3} x augmentation {none; MNIST-1D's own
transformations (funcnn.data.augment): a circular shift of up to 8 samples, 20% in scale,
noise of std 0.05; the same with shifts of up to 16} x 120 epochs x lr {3e-3, 7e-3, 1.5e-2} x
seeds {0, 1} (27 points, 54 runs, 32 min on 2 busy CPU cores). An MLP does not know that
neighbouring samples are neighbours, so shifted copies of a sequence are new examples to it.
Mean validation accuracy over the two seeds, at lr 7e-3 (the best lr of every group):

=======  ====  =======  ========
dropout  none  shift 8  shift 16
=======  ====  =======  ========
0        71.6  80.6     75.5
0.1      74.8  81.3     72.4
0.3      76.4  76.1     66.5
=======  ====  =======  ========

Augmentation with shifts of up to 8 gains 6-9 points where dropout is light, and wants less
dropout than the data alone (0.3 without augmentation, 0.1 with it); shifts of up to 16 go
further than the data's own variation and lose. Chosen: dropout 0.1, shift 8, lr 7e-3, 120
epochs (validation 81.25%: 80.0 and 82.5%); the next best were dropout 0 at 7e-3 (80.6%)
and at 3e-3 (80.1%). Then, once, trained on all 4,000 sequences: test accuracy 83.7% mean
over seeds 0-3 (83.6, 82.9, 84.0, 84.2%; std 0.5), the four runs vmapped in one program.
Bare ``funcnn train --seed S`` (one run each, the same computation up to the order of
floating-point sums, which 3,720 updates amplify) reached 81.8, 82.8, 83.4, 82.9% for
S = 0..3 (mean 82.7%), in 50-72 s each on 2 CPU cores shared with a load of 16-20 (18-20 s
of CPU time; the earlier 50-epoch recipe took 13 s of CPU time). The earlier MLP recipe
(dropout 0.3, no augmentation, 50 epochs: 74.7% mean over 8 seeds) had been chosen by test
accuracy. Softmax (multinomial) and logistic regression keep it as :data:`MNIST1D_RUN`
because their own validation search confirms it: ``funcnn tune --model softmax_regression``
(lr {1e-3, 7e-3, 3e-2} x seeds 0-2, 400 validation sequences) gives 26.2, **28.8** and 26.8%
validation accuracy, choosing 7e-3; then, once, test accuracy 32.3, 32.5, 32.5, 32.5% for
seeds 0-3 (mean 32.45%, the MNIST-1D paper's ~32%).

**The linear-regression recipe** (:data:`LINEAR_RUN`, for regression datasets) is that recipe
with lr 10: ``funcnn tune --model linear_regression --dataset diabetes`` (weight decay
{0, 0.05} x lr {1, 3, 10, 30} x seeds 0-2, 10% of the training set held out; raw targets of
mean 152, ~150 AdamW updates, so the bias needs large steps) gives validation losses (the
half mean squared error) 5223, 1437, 1445, 1482 without decay and 5528, 1479, **1404**, 1531
with 0.05, choosing lr 10 with decay 0.05 (lr 100 diverges); then, once, test loss 1457,
1416, 1423, 1427 for seeds 0-3 (mean 1431).

**The CNN and GRU recipes** were chosen on the same kind of validation split (400 of the 4,000
training sequences held out, the test set unused), AdamW with a cosine decay and batch 128
throughout. Validation accuracy, one seed unless two are given:

* CNN, circular convolutions of kernel 5 and strides 1-2-1-2, weight decay 0.05. Channels
  32-32-64-64 for 40 epochs at lr 3e-3: 91.5% without augmentation; 92.0 with shifts of up to
  4 samples; 91.2 with shifts of 8 and 20% scale; 92.5 adding noise of std 0.05; 92.5 with
  shifts of 20. Channels 64-64-128-128 (shift 8, scale 0.2): 95.75 at 40 epochs; at 60 epochs
  with noise 0.05: 96.25, with dropout 0.2 before the classifier 96.5, with label smoothing
  0.1 97.0, at lr 6e-3 97.0, adding shear 0.5 96.25; five layers 64-128-128-128-128 (40
  epochs) 95.25. Two seeds, smoothing 0.1 and lr 6e-3: 95.9 (96.0, 95.75); with dropout 0.2
  **97.75 (97.5, 98.0): chosen**; the same for 80 epochs 97.0, or batch 64 97.0. Checked with
  ``funcnn train --model cnn --val-fraction 0.1 --seeds 4``: 97.7% mean validation accuracy.
* GRU, reading the sequence ``chunk`` samples per step, weight decay 0.01, gradient clipping
  at norm 1, the CNN's augmentation and smoothing 0.1, hand-written BPTT. 40 epochs at lr
  3e-3: bidirectional 64 units, 1 sample per step 92.75, one direction 88.25, a 16-wide input
  projection with 32 units 65.25; lr 6e-3 96.25. 60 epochs: 64 units, chunk 2 92.75 (lr 3e-3)
  and 95.75 (96.25, 95.25 at lr 6e-3); 128 units, chunk 4 94.5 (lr 3e-3) and 95.1 (lr 6e-3);
  two stacked layers of 64, chunk 4 93.0; **96 units, chunk 2, lr 6e-3: 97.5, then 97.25
  (97.5, 97.0) on seeds 1 and 2: chosen**; lr 1e-2 97.4 (97.25, 97.5). Checked with
  ``funcnn train --model gru --val-fraction 0.1 --seeds 4``: 96.1% mean validation accuracy.

Then, once, on the test set (all 4,000 training sequences), ``funcnn train --model M --seed
S`` for S = 0..3: CNN 97.6, 96.7, 96.7, 96.7% (mean 96.9%), 33.7 s wall for seed 0 on an idle
2-core CPU with the compilation cache off; GRU 97.0, 96.2, 96.7, 96.9% (mean 96.7%), 42.7 s;
the MLP's bare run 11.3 s."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

import funcnn
from funcnn import checks
from funcnn.data import Augment


class ModelEntry(NamedTuple):
    """A model that ``funcnn train`` can build by name.

    Attributes:
        build: ``build(input_shape, n_out, options) -> model``; ``options`` holds every
            name of ``options`` (the recipe's values where the user gave none).
        task: "classification" or "regression" when the model is made for one of them,
            None when it serves both.
        options: the option names the builder reads.
        help: one line for ``funcnn train --help``.
    """

    build: Callable[[tuple[int, ...], int, Mapping[str, Any]], Any]
    task: str | None
    options: tuple[str, ...]
    help: str


class Recipe(NamedTuple):
    """A model's defaults.

    Attributes:
        model: the default of each of the model's options.
        run: default :class:`~funcnn.train.config.RunConfig` fields (optimizer, learning
            rate, schedule, epochs, batch size, regularization).
    """

    model: Mapping[str, Any]
    run: Mapping[str, Any]


def _n_in(name: str, input_shape: tuple[int, ...]) -> int:
    if len(input_shape) != 1:
        raise ValueError(
            f"model {name!r} takes flat examples (n, d); this dataset's examples have shape "
            f"{input_shape}."
        )
    return int(input_shape[0])


def _mlp(input_shape, n_out, options):
    hidden = tuple(int(h) for h in options["hidden"])
    if not hidden:
        raise ValueError("model 'mlp' needs at least one hidden layer (hidden=(256, 256)).")
    sizes = [_n_in("mlp", input_shape), *hidden, n_out]
    return funcnn.mlp(sizes, options["activation"], dropout=options["dropout"])


def _logistic_regression(input_shape, n_out, options):
    n_in = _n_in("logistic_regression", input_shape)
    if n_out == 2:  # one logit, binary cross-entropy
        return funcnn.logistic_regression(n_in)
    return funcnn.softmax_regression(n_in, n_out)  # multinomial logistic regression


def _softmax_regression(input_shape, n_out, options):
    return funcnn.softmax_regression(_n_in("softmax_regression", input_shape), n_out)


def _linear_regression(input_shape, n_out, options):
    return funcnn.linear_regression(_n_in("linear_regression", input_shape), n_out)


def _cnn(input_shape, n_out, options):
    return funcnn.cnn(
        _n_in("cnn", input_shape),
        n_out,
        channels=tuple(options["channels"]),
        strides=tuple(options["strides"]),
        kernel_size=options["kernel_size"],
        padding=options["padding"],
        activation=options["activation"],
        dropout=options["dropout"],
    )


def _recurrent(cell: str):
    def build(input_shape, n_out, options):
        return funcnn.recurrent(
            _n_in(cell, input_shape),
            n_out,
            cell=cell,
            hidden_size=options["hidden_size"],
            chunk=options["chunk"],
            bidirectional=options["bidirectional"],
        )

    return build


MODELS: dict[str, ModelEntry] = {
    "mlp": ModelEntry(
        _mlp, None, ("hidden", "activation", "dropout"), "multilayer perceptron (--hidden)"
    ),
    "logistic_regression": ModelEntry(
        _logistic_regression,
        "classification",
        (),
        "one logit for 2 classes, else multinomial (softmax) logistic regression",
    ),
    "softmax_regression": ModelEntry(
        _softmax_regression, "classification", (), "softmax regression"
    ),
    "linear_regression": ModelEntry(
        _linear_regression, "regression", (), "least-squares linear regression"
    ),
    "cnn": ModelEntry(
        _cnn,
        "classification",
        ("channels", "strides", "kernel_size", "padding", "activation", "dropout"),
        "1-D convolutions (circular), global average pooling, dense (--channels)",
    ),
    "gru": ModelEntry(
        _recurrent("gru"),
        "classification",
        ("hidden_size", "chunk", "bidirectional"),
        "a (bidirectional) GRU over chunks of the sequence (--hidden-size, --chunk)",
    ),
    "rnn": ModelEntry(
        _recurrent("rnn"),
        "classification",
        ("hidden_size", "chunk", "bidirectional"),
        "a (bidirectional) Elman RNN over chunks of the sequence",
    ),
}

# The first MNIST-1D recipe (module docstring), kept by softmax and logistic regression.
MNIST1D_RUN: Mapping[str, Any] = {
    "optimizer": "adamw",
    "lr": 7e-3,
    "schedule": "cosine",
    "warmup_steps": 0,
    "weight_decay": 0.05,
    "momentum": 0.9,
    "l2": 0.0,
    "l1": 0.0,
    "clip_norm": None,
    "epochs": 50,
    "batch_size": 128,
    "grad": "autodiff",
    "label_smoothing": 0.0,
    "augment": None,
}

# The augmentation of the convolutional and recurrent recipes: MNIST-1D's own generative
# process (funcnn.data.augment), a circular shift of up to 8 of 40 samples, 20% in scale and
# white noise of std 0.05.
MNIST1D_AUGMENT = Augment(shift=8, scale=0.2, noise=0.05)

# The CNN recipe (funcnn.cnn's 64-64-128-128 circular convolutions, strides 1-2-1-2, kernel 5,
# dropout 0.2 before the classifier): chosen on a validation split of 400 of the 4,000
# training sequences (the search is in the module docstring).
CNN_RUN: Mapping[str, Any] = {
    **MNIST1D_RUN,
    "lr": 6e-3,
    "epochs": 60,
    "label_smoothing": 0.1,
    "augment": MNIST1D_AUGMENT,
    "grad": "manual",
}

# The recurrent recipe: a bidirectional GRU of 96 units reading the sequence two samples per
# step, gradient clipping at norm 1 (its search is in the module docstring).
RECURRENT_RUN: Mapping[str, Any] = {**CNN_RUN, "weight_decay": 0.01, "clip_norm": 1.0}

# The linear-regression recipe (module docstring): chosen by `funcnn tune --model
# linear_regression --dataset diabetes` on a validation split.
LINEAR_RUN: Mapping[str, Any] = {**MNIST1D_RUN, "lr": 10.0}

# The MLP recipe (module docstring): chosen by `funcnn tune --model mlp` on a validation split.
MLP_RUN: Mapping[str, Any] = {**MNIST1D_RUN, "epochs": 120, "augment": MNIST1D_AUGMENT}

RECIPES: dict[str, Recipe] = {
    "mlp": Recipe({"hidden": (256, 256), "activation": "relu", "dropout": 0.1}, MLP_RUN),
    "logistic_regression": Recipe({}, MNIST1D_RUN),
    "softmax_regression": Recipe({}, MNIST1D_RUN),
    "linear_regression": Recipe({}, LINEAR_RUN),
    "cnn": Recipe(
        {
            "channels": (64, 64, 128, 128),
            "strides": (1, 2, 1, 2),
            "kernel_size": 5,
            "padding": "circular",
            "activation": "relu",
            "dropout": 0.2,
        },
        CNN_RUN,
    ),
    "gru": Recipe({"hidden_size": 96, "chunk": 2, "bidirectional": True}, RECURRENT_RUN),
    "rnn": Recipe({"hidden_size": 96, "chunk": 2, "bidirectional": True}, RECURRENT_RUN),
}


def model_options(name: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every option of model ``name``: its recipe's, replaced by those ``given``; an option
    the model does not read is an error."""
    entry = MODELS[checks.check_choice(name, MODELS, "model")]
    given = dict(given or {})
    unknown = sorted(set(given) - set(entry.options))
    if unknown:
        takes = ", ".join(entry.options) if entry.options else "none"
        raise ValueError(f"model {name!r} does not take the options {unknown}; it takes: {takes}.")
    return {**RECIPES[name].model, **given}


def _n_out(data) -> int:
    if data.n_classes is not None:
        return int(data.n_classes)
    return int(np.prod(np.shape(data.y_train)[1:], dtype=int))


def build_model(name: str, data, options: Mapping[str, Any] | None = None):
    """The model ``name`` for ``data`` (its example shape and number of classes or targets),
    with ``options`` over the recipe's (:func:`model_options`)."""
    options = model_options(name, options)
    entry = MODELS[name]
    task = "regression" if data.n_classes is None else "classification"
    if entry.task not in (None, task):
        dataset = getattr(data, "name", "the dataset")
        has = "is regression" if task == "regression" else f"has {data.n_classes} classes"
        fitting = ", ".join(n for n, e in MODELS.items() if e.task in (None, task))
        raise ValueError(
            f"model {name!r} needs a {entry.task} dataset; {dataset} {has} (try {fitting})."
        )
    return entry.build(tuple(np.shape(data.x_train)[1:]), _n_out(data), options)
