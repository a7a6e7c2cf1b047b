"""The MNIST-1D paper's table: logistic regression, MLP, CNN and GRU, on ordered and on
spatially shuffled sequences, in the paper's setup; beside them funcnn's own recipes.

Claim (Greydanus, "Scaling Down Deep Learning", README table: test accuracy 32% logistic
regression, 68% MLP, 94% CNN, 91% GRU; with the 40 positions shuffled 68% MLP, 56% CNN, 57%
GRU; the repository notebook's final step: 31.5%, 65.1%, 92.3%, 89.1%). In the paper's setup
-- Adam at 1e-2, batch 100, 6,000 updates (150 epochs of the 4,000 training sequences), no
regularization, the raw (unstandardized) sequences -- with the paper's models (logistic
regression 40 -> 10, 410 params; the repository's residual MLP
``h = relu(W1 x + b1); h = h + relu(W2 h + b2); out = W3 h + b3``, 15,210; ConvBase, 5,210;
the bidirectional GRU of 6 units, 5,098 here), the mean test accuracy over seeds:

1. logistic regression within 3 points of 32% (measured, 5 seeds: 31.8%);
2. the residual MLP >= 62%, the notebook's 65.1% minus 3 points: it lands on the notebook's
   figure rather than the table's (measured 64.8% to 67.0% over three sets of 5 seeds, seed
   std 1.1 to 1.8 points; 68% - 3 would sit on the mean and fail about half the time);
3. the CNN >= 91% (94% - 3; measured 92.7%, seed std 0.8);
4. the GRU >= 88% (91% - 3; measured 90.0%, seed std 1.5);
5. shuffling the positions (one fixed permutation drawn from the study's key, the same for the
   training and the test set) moves the MLP's mean by at most 3 pooled seed standard
   deviations (sample stds, ddof 1, of its ordered and shuffled runs; measured 0.1 to 1.1):
   the MLP is the same function class in any feature order (the digest, section 7), so only
   seed noise separates the two -- while the CNN falls by at least 25 points towards the
   paper's 56% (measured 92.7% -> 58.3%, 34 points) and the GRU by at least 25 towards 57%
   (measured 90.0% -> 54.1%, 36 points).

The claim is on the means over ``--n-seeds`` runs; the same thresholds applied to each seed's
runs (:func:`per_seed_verdicts`) are the record's ``held_draws``, so ``python -m experiments``
runs this study once rather than once per seed (5 seeds in full mode, 3 quick). The claim fails if a model falls short of its figure, if the permutation differed between the
training and the test set (the MLP then falls towards chance), or if the CNN or the GRU did
not use the order of the samples. Quick mode (the test suite runs it) keeps 3 seeds, trains
logistic regression and the MLP for the full 6,000 updates and the CNN for 1,200 (30 epochs),
and drops the GRU and the rows outside the claim: logistic regression within 3 points of 32%
(measured over study seeds 0-2: 30.1% to 31.9%), the MLP >= 62% (65.8% to 66.8%), the CNN
>= 85% (89.7% to 92.5%), the MLP's shuffle within 3 pooled stds (0.1 to 0.8) and the CNN's
drop >= 20 points (31 to 36).

Beside the claim (full mode, not part of it): the plain 40-100-100-10 MLP without the skip;
funcnn's CNN and GRU recipes (``funcnn train --model cnn`` / ``--model gru``: circular
convolutions with global average pooling, a 96-unit bidirectional GRU over pairs of samples,
AdamW, cosine decay, MNIST-1D augmentation, label smoothing; standardized inputs, as
``funcnn train``); and the MLP of ``funcnn train``'s defaults.

What still differs from the paper's setup (every difference we know of; the optimizer -- Adam
with PyTorch's defaults beta = (0.9, 0.999), eps = 1e-8, which are optax's --, the learning
rate, the batch, the absence of weight decay and of input scaling, the mean cross-entropy,
float32 and the data's size and split are the same):

1. initialization: PyTorch's uniform ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` weights and
   biases; here He normal for the MLP's layers and the convolutions, Xavier normal for the
   CNN's and the GRU's dense classifiers and the GRU's input weights, orthogonal hidden
   weights, N(0, 0.01^2) for logistic regression, zero biases;
2. the GRU cell: PyTorch's has a second bias per gate and applies the reset gate after the
   hidden product (5,134 parameters); funcnn's is Dive into Deep Learning's (5,098);
3. ConvBase flattens its features position-major rather than channel-major (the same
   function class, a permuted classifier);
4. the number of updates: 6,000 here for every row (quick: 1,200 for the CNN); the
   repository's runs take 6,000 to 8,000;
5. the training order: the repository walks the training set in its fixed order; funcnn
   reshuffles every epoch;
6. the shuffled rows: one fixed permutation drawn from this study's key, not the paper's
   own permutation (any fixed permutation is the same problem for the MLP; for the CNN and
   the GRU a different permutation destroys different neighbourhoods);
7. runs: the paper's cells are single runs with their own seeds; here the mean of
   ``--n-seeds`` = 5 runs (quick: 3) and the measured seed spread;
8. when the accuracy is read: here after the last update; the notebook reports its final
   step, the README table does not say;
9. the data: generated locally by the ``mnist1d`` package with the published generator
   seed 42, not checked bit for bit against the pickle the paper downloads.

Usage::

    python -m experiments.mnist1d_table [--quick] [--seed 0] [--out results/mnist1d_table]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

import funcnn
from experiments.common import (
    Timer,
    finish,
    make_parser,
    pyplot,
    run_seeds,
    save_figure,
    write_text_atomic,
)
from experiments.convolution import n_params, pooled_std, position_permutation, shuffle_positions
from funcnn.blocks import Act, Dense, Residual, serial
from funcnn.data import load
from funcnn.train import MODELS, RECIPES, fit_seeds
from funcnn.train_cli import DEFAULTS as TRAIN_DEFAULTS

NAME = "mnist1d_table"
CLAIM = (
    "MNIST-1D, paper setup (Adam 1e-2, batch 100, 6,000 updates): logistic regression within "
    "3 points of 32%; residual MLP >= 62% (notebook 65.1% - 3); CNN >= 91%; GRU >= 88%; "
    "shuffling the 40 positions moves the MLP by <= 3 seed stds and drops the CNN and the GRU "
    "by >= 25 points (quick: CNN at 1,200 updates >= 85%, drop >= 20; no GRU)"
)
LR_MARGIN = 0.03  # |logistic - 32%| (the distance between the paper's two MLP reports)
MLP_MIN = 0.62  # the notebook's 65.1% - 3 points (module docstring)
CNN_MIN = 0.91  # the table's 94% - 3 points
GRU_MIN = 0.88  # the table's 91% - 3 points
MLP_STDS = 3.0  # |shuffled - ordered| of the MLP, in pooled seed stds
CNN_DROP = 0.25  # ordered - shuffled; measured 34 points (paper: 38)
GRU_DROP = 0.25  # measured 36 points (paper: 34)
QUICK_CNN_MIN = 0.85  # after 1,200 updates; measured 89.7% to 92.5%
QUICK_CNN_DROP = 0.20  # after 1,200 updates; measured 31 to 36 points
QUICK_CONV_EPOCHS = 30

# The paper's figures (REFERENCES.md): README table and the notebook's final step.
PAPER = {
    "logistic_regression": {"table": 0.32, "notebook": 0.315},
    "mlp": {"table": 0.68, "notebook": 0.651},
    "cnn": {"table": 0.94, "notebook": 0.923},
    "gru": {"table": 0.91, "notebook": 0.891},
    "mlp_shuffled": {"table": 0.68},
    "cnn_shuffled": {"table": 0.56},
    "gru_shuffled": {"table": 0.57},
}


def residual_mlp(n_in: int = 40, hidden: int = 100, n_classes: int = 10):
    """The MNIST-1D repository's MLP: ``h = relu(W1 x + b1); h = h + relu(W2 h + b2);
    out = W3 h + b3`` (15,210 parameters), He normal like ``funcnn.mlp`` with ReLU."""
    return serial(
        Dense(n_in, hidden, "he_normal"),
        Act("relu"),
        Residual(serial(Dense(hidden, hidden, "he_normal"), Act("relu"))),
        Dense(hidden, n_classes, "he_normal"),
        kind="mlp_residual",
    )


def recipe_model(name: str):
    """The model of ``funcnn train --model NAME`` on MNIST-1D."""
    return MODELS[name].build((40,), 10, RECIPES[name].model)


def defaults_mlp():
    """The MLP of ``funcnn train``'s defaults (``funcnn/train_cli.py``, kept in sync by import)."""
    d = TRAIN_DEFAULTS
    hidden = [int(h) for h in d["hidden"].split(",")]
    return funcnn.mlp([40, *hidden, 10], d["activation"], dropout=d["dropout"])


class Row(NamedTuple):
    """One row of the table.

    Attributes:
        title: its label.
        build: ``() -> model``.
        setup: "paper" (Adam 1e-2, batch 100, raw inputs) or the name of a recipe of
            ``funcnn.train.RECIPES`` (its run, standardized inputs), or "defaults".
        shuffled: trained and tested on the shuffled positions.
        claim: part of the claim (else a full-mode extra).
        quick: run in quick mode.
        conv: a convolutional or recurrent row (quick mode trains it for fewer epochs).
    """

    title: str
    build: Callable[[], Any]
    setup: str = "paper"
    shuffled: bool = False
    claim: bool = True
    quick: bool = True
    conv: bool = False


ROWS = {
    "logistic_regression": Row("logistic regression", lambda: funcnn.softmax_regression(40, 10)),
    "mlp": Row("MLP (paper's, residual)", residual_mlp),
    "mlp_plain": Row(
        "MLP 40-100-100-10, no skip",
        lambda: funcnn.mlp([40, 100, 100, 10], "relu"),
        claim=False,
        quick=False,
    ),
    "cnn": Row("CNN (paper's ConvBase)", funcnn.mnist1d_convbase, conv=True),
    "gru": Row("GRU (paper's, bidir. 6)", funcnn.mnist1d_gru, quick=False, conv=True),
    "mlp_shuffled": Row("MLP, shuffled", residual_mlp, shuffled=True),
    "cnn_shuffled": Row("CNN, shuffled", funcnn.mnist1d_convbase, shuffled=True, conv=True),
    "gru_shuffled": Row("GRU, shuffled", funcnn.mnist1d_gru, shuffled=True, quick=False, conv=True),
    "cnn_recipe": Row(
        "CNN, funcnn recipe", lambda: recipe_model("cnn"), "cnn", claim=False, quick=False
    ),
    "gru_recipe": Row(
        "GRU, funcnn recipe", lambda: recipe_model("gru"), "gru", claim=False, quick=False
    ),
    "mlp_funcnn_defaults": Row(
        "MLP, funcnn train defaults", defaults_mlp, "defaults", claim=False, quick=False
    ),
}


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument(
        "--epochs", type=int, default=150, help="epochs of 40 updates (paper: 6,000 updates)"
    )
    p.add_argument(
        "--conv-epochs",
        type=int,
        default=None,
        help=f"epochs of the CNN and GRU rows (default: --epochs; --quick: {QUICK_CONV_EPOCHS})",
    )
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate (paper: 1e-2)")
    p.add_argument("--batch-size", type=int, default=100, help="minibatch size (paper: 100)")
    p.add_argument("--n-seeds", type=int, default=5, help="runs per row (vmapped)")
    p.add_argument(
        "--recipe-seeds", type=int, default=3, help="runs of the funcnn-recipe rows (slow)"
    )
    p.add_argument(
        "--extra-rows",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add the rows outside the claim (plain MLP, funcnn's recipes, funcnn train "
        "defaults; default: on, off with --quick)",
    )
    return p


def run_options(row: Row, args) -> dict:
    """``fit_seeds`` options of a row."""
    if row.setup == "paper":
        epochs = args.conv_epochs if row.conv else args.epochs
        return dict(
            optimizer="adam",
            lr=args.lr,
            epochs=epochs,
            batch_size=args.batch_size,
            grad="manual" if row.conv else "autodiff",  # the same numbers, faster (backprop)
        )
    if row.setup == "defaults":
        d = TRAIN_DEFAULTS
        names = ("optimizer", "lr", "weight_decay", "schedule", "warmup_steps", "epochs")
        names += ("batch_size", "clip_norm", "l2", "l1", "augment", "label_smoothing")
        return {k: d[k] for k in names}
    return dict(RECIPES[row.setup].run)


def checks_of(numbers: dict, quick: bool) -> list[dict]:
    """Each part of the claim: its measured value, its threshold and whether it holds."""

    def mean(name):
        return numbers[name]["test_accuracy_mean"]

    def drop(name):
        return mean(name) - mean(f"{name}_shuffled")

    mlp_std = pooled_std(numbers["mlp"]["test_accuracy"], numbers["mlp_shuffled"]["test_accuracy"])
    checks = [
        ("|logistic regression - 32%|", abs(mean("logistic_regression") - 0.32), "<=", LR_MARGIN),
        ("MLP", mean("mlp"), ">=", MLP_MIN),
        ("CNN", mean("cnn"), ">=", QUICK_CNN_MIN if quick else CNN_MIN),
        ("|MLP shuffled - ordered| / seed std", abs(drop("mlp")) / mlp_std, "<=", MLP_STDS),
        ("CNN ordered - shuffled", drop("cnn"), ">=", QUICK_CNN_DROP if quick else CNN_DROP),
    ]
    if not quick:
        checks += [
            ("GRU", mean("gru"), ">=", GRU_MIN),
            ("GRU ordered - shuffled", drop("gru"), ">=", GRU_DROP),
        ]
    return [
        {
            "check": name,
            "value": float(value),
            "op": op,
            "threshold": threshold,
            "held": bool(value <= threshold if op == "<=" else value >= threshold),
        }
        for name, value, op, threshold in checks
    ]


def per_seed_verdicts(numbers: dict, quick: bool) -> list[bool]:
    """The claim's thresholds applied to each seed's runs (the rows train the same seeds, so
    run ``i`` of every row shares its seed): each model's accuracy against its figure, and the
    ordered-minus-shuffled difference of seed ``i``'s pair of runs against the drop (CNN, GRU)
    or against 3 pooled seed stds of all the MLP's runs (MLP)."""

    def acc(name):
        return np.asarray(numbers[name]["test_accuracy"])

    def drop(name):
        return acc(name) - acc(f"{name}_shuffled")

    mlp_std = pooled_std(numbers["mlp"]["test_accuracy"], numbers["mlp_shuffled"]["test_accuracy"])
    ok = (
        (np.abs(acc("logistic_regression") - 0.32) <= LR_MARGIN)
        & (acc("mlp") >= MLP_MIN)
        & (acc("cnn") >= (QUICK_CNN_MIN if quick else CNN_MIN))
        & (np.abs(drop("mlp")) <= MLP_STDS * mlp_std)
        & (drop("cnn") >= (QUICK_CNN_DROP if quick else CNN_DROP))
    )
    if not quick:
        ok &= (acc("gru") >= GRU_MIN) & (drop("gru") >= GRU_DROP)
    return [bool(v) for v in ok]


def markdown_table(numbers: dict) -> str:
    lines = [
        "| model | data | setup | params | updates | paper (table) | paper (notebook) | "
        "funcnn: mean +- std | min - max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in numbers.items():
        p = PAPER.get(name, {})
        paper_t = f"{p['table']:.0%}" if "table" in p else "-"
        paper_n = f"{p['notebook']:.1%}" if "notebook" in p else "-"
        acc = np.asarray(r["test_accuracy"])
        lines.append(
            f"| {ROWS[name].title} | {'shuffled' if ROWS[name].shuffled else 'ordered'} | "
            f"{r['setup']} | {r['params']:,} | {r['updates']:,} | {paper_t} | {paper_n} | "
            f"{acc.mean():.1%} +- {acc.std(ddof=1):.1%} ({len(acc)} seeds) | "
            f"{acc.min():.1%} - {acc.max():.1%} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.extra_rows is None:
        args.extra_rows = not args.quick
    if args.quick:
        args.n_seeds = min(args.n_seeds, 3)  # the full 6,000 updates: the claim needs them
        args.conv_epochs = args.conv_epochs or QUICK_CONV_EPOCHS
    args.conv_epochs = args.conv_epochs or args.epochs
    key = jax.random.key(args.seed)
    seeds = run_seeds(jax.random.fold_in(key, 0), args.n_seeds)
    perm = position_permutation(jax.random.fold_in(key, 1))
    raw = load("mnist1d", standardize=False)  # the paper's inputs
    data = {
        ("paper", False): raw,
        ("paper", True): shuffle_positions(raw, perm),
        ("funcnn", False): load("mnist1d"),  # standardized, as funcnn train
    }
    rows = {
        name: row
        for name, row in ROWS.items()
        if (row.quick or not args.quick) and (row.claim or args.extra_rows)
    }
    numbers, curves = {}, {}
    with Timer() as t:
        for name, row in rows.items():
            model, opts = row.build(), run_options(row, args)
            run_seeds_ = seeds if row.setup == "paper" else seeds[: args.recipe_seeds]
            d = data[("paper" if row.setup == "paper" else "funcnn", row.shuffled)]
            res = fit_seeds(model, d, run_seeds_, progress=False, eval_train=False, **opts)
            acc = np.asarray(res.final["test_accuracy"])
            n_batches = len(d.x_train) // opts["batch_size"]
            curves[name] = (
                np.arange(1, opts["epochs"] + 1) * n_batches,
                np.asarray(res.history["test_accuracy"]),
            )
            numbers[name] = {
                "test_accuracy": acc.tolist(),
                "test_accuracy_mean": float(acc.mean()),
                "test_accuracy_std": float(acc.std(ddof=1)),
                "params": n_params(model),
                "updates": opts["epochs"] * n_batches,
                "setup": row.setup,
                "shuffled": row.shuffled,
                "wall_time_s": float(res.wall_time_s),
                **{f"paper_{k}": v for k, v in PAPER.get(name, {}).items()},
            }
            print(f"[{NAME}] {row.title}: {acc.mean():.1%} ({res.wall_time_s:.0f} s)", flush=True)
    checks = checks_of(numbers, args.quick)
    held = all(c["held"] for c in checks)
    per_seed = per_seed_verdicts(numbers, args.quick)
    table = markdown_table(numbers)
    write_text_atomic(args.out / "table.md", table)
    print(table)
    plots = draw(args, numbers, curves, len(seeds))
    headline = (
        ", ".join(
            f"{ROWS[n].title} {numbers[n]['test_accuracy_mean']:.1%}"
            + (f" (paper {PAPER[n]['table']:.0%})" if n in PAPER else "")
            for n in numbers
        )
        + "; "
        + ", ".join(f"{c['check']} {c['value']:.3g}" for c in checks if "|" in c["check"])
    )
    numbers = {
        "rows": numbers,
        "checks": checks,
        "held_per_seed": per_seed,
        "seeds": seeds,
        "permutation": perm.tolist(),
    }
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers=numbers,
        plots=plots,
        wall_time_s=t.seconds,
        held_draws=per_seed,
    )


def draw(args, numbers: dict, curves: dict, n_seeds: int) -> list[str]:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    names = list(numbers)
    for i, name in enumerate(names):
        acc = np.asarray(numbers[name]["test_accuracy"])
        color = "C1" if ROWS[name].shuffled else ("C0" if ROWS[name].claim else "C2")
        axes[0].bar(i, acc.mean(), yerr=acc.std(ddof=1), color=color, alpha=0.6, capsize=4)
        axes[0].scatter(np.full(acc.shape, i), acc, color="k", s=8, zorder=3)
        axes[0].text(i, 0.02, f"{acc.mean():.1%}", ha="center", rotation=90, fontsize=8)
        for kind, marker in (("table", "_"), ("notebook", "x")):
            if kind in PAPER.get(name, {}):
                axes[0].scatter(
                    i,
                    PAPER[name][kind],
                    marker=marker,
                    s=400 if marker == "_" else 50,
                    color="r",
                    zorder=4,
                    label=f"paper ({kind})" if name == "logistic_regression" else None,
                )
    axes[0].set_xticks(
        range(len(names)), [ROWS[n].title for n in names], rotation=30, ha="right", fontsize=8
    )
    axes[0].set(
        ylabel="test accuracy",
        ylim=(0, 1),
        title="MNIST-1D: paper vs funcnn (blue: paper setup, orange: shuffled positions, "
        "green: outside the claim)",
    )
    axes[0].title.set_fontsize(9)
    axes[0].legend(loc="upper left", fontsize=8)
    bases = list(dict.fromkeys(n.removesuffix("_shuffled") for n in names))
    for name in names:
        steps, c = curves[name]
        color = f"C{bases.index(name.removesuffix('_shuffled')) % 10}"  # shuffled: same hue
        ls = "--" if ROWS[name].shuffled else "-"
        axes[1].plot(steps, c.mean(0), color=color, ls=ls, label=ROWS[name].title)
        axes[1].fill_between(steps, c.min(0), c.max(0), color=color, alpha=0.2)
    axes[1].set(
        xlabel="update",
        ylabel="test accuracy (mean; band: min-max over seeds)",
        ylim=(0, 1),
        title=f"Test accuracy during training ({n_seeds} seeds; dashed: shuffled)",
    )
    axes[1].legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    return [save_figure(fig, args.out / "mnist1d_table.png")]


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
