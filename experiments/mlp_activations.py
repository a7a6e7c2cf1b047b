"""ReLU, sigmoid and tanh MLPs on MNIST-1D: the best reaches the MNIST-1D paper's MLP figure.

Claim (the digest, section 5; the math paper, section 1.3; the MNIST-1D paper's table): a
two-hidden-layer MLP (40-128-128-10, close to the paper's 40-100-100-10) on MNIST-1D, trained
with the same recipe for each hidden activation (dropout 0.2 after each hidden layer, AdamW
with decoupled weight decay 0.05, cosine decay from the paper's Adam rate 1e-2, batch 128;
He initialization for ReLU, Xavier for sigmoid and tanh; 100 epochs, 40 with ``--quick``),
reaches a
mean test accuracy over seeds of at least 68% (the paper's MLP figure) with the best of
ReLU, sigmoid and tanh. The seeds of each activation train at once (``fit_seeds``, one
``jax.vmap``-ped program). The three activations are reported side by side; the notes call
ReLU the most popular choice "due to ... its good performance", which the measured ranking
shows or not, but the claim checked is the best activation's figure. Each seed's run of the
best activation is also checked against 68% on its own: these per-seed verdicts are the
record's ``held_draws``, so ``python -m experiments`` does not rerun the study with other
seeds (its claim is already over ``--n-seeds`` runs). The recipe suits ReLU;
the sigmoid network learns much more slowly with it (its train accuracy stays low too, the
plot's dashed curves), so it ends under-fitted rather than over-fitted.

Usage::

    python -m experiments.mlp_activations [--quick] [--seed 0] [--out results/mlp_activations]
"""

from __future__ import annotations

import sys

import jax
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, run_seeds, save_figure
from funcnn.data import load
from funcnn.train import fit_seeds

NAME = "mlp_activations"
CLAIM = (
    "on MNIST-1D the best of ReLU, sigmoid and tanh MLPs (40-128-128-10, same recipe) "
    "reaches a mean test accuracy over seeds >= 68% (the MNIST-1D paper's MLP)"
)
PAPER_MLP = 0.68  # MNIST-1D README table, MLP (REFERENCES.md)
ACTIVATIONS = ("relu", "sigmoid", "tanh")


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--hidden", type=int, default=128, help="width of both hidden layers")
    p.add_argument("--dropout", type=float, default=0.2, help="drop rate after each hidden layer")
    p.add_argument("--lr", type=float, default=1e-2, help="peak AdamW learning rate (cosine decay)")
    p.add_argument("--weight-decay", type=float, default=0.05, help="decoupled weight decay")
    p.add_argument("--epochs", type=int, default=100, help="passes over the 4,000 sequences")
    p.add_argument("--batch-size", type=int, default=128, help="minibatch size")
    p.add_argument("--n-seeds", type=int, default=3, help="runs per activation (vmapped)")
    return p


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 40)
    seeds = run_seeds(jax.random.fold_in(jax.random.key(args.seed), 0), args.n_seeds)
    data = load("mnist1d")
    numbers, curves = {}, {}
    with Timer() as t:
        for act in ACTIVATIONS:
            model = funcnn.mlp([40, args.hidden, args.hidden, 10], act, dropout=args.dropout)
            res = fit_seeds(
                model,
                data,
                seeds,
                optimizer="adamw",
                lr=args.lr,
                schedule="cosine",
                weight_decay=args.weight_decay,
                epochs=args.epochs,
                batch_size=args.batch_size,
                progress=False,
            )
            acc = np.asarray(res.final["test_accuracy"])
            curves[act] = (
                np.asarray(res.history["test_accuracy"]),
                np.asarray(res.history["train_accuracy"]),
            )
            numbers[act] = {
                "test_accuracy": acc.tolist(),
                "test_accuracy_mean": float(acc.mean()),
                "test_accuracy_std": float(acc.std()),
                "train_accuracy_mean": float(np.mean(res.final["train_accuracy"])),
                "initializer": model.initializer,
            }
    means = {a: numbers[a]["test_accuracy_mean"] for a in ACTIVATIONS}
    best = max(means, key=means.get)
    held = means[best] >= PAPER_MLP
    per_seed = [acc >= PAPER_MLP for acc in numbers[best]["test_accuracy"]]  # held_draws

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    epochs = np.arange(1, args.epochs + 1)
    for i, act in enumerate(ACTIVATIONS):
        test, train = curves[act]
        color = f"C{i}"
        axes[0].plot(epochs, test.mean(0), color=color, label=f"{act}: test")
        axes[0].fill_between(epochs, test.min(0), test.max(0), color=color, alpha=0.25)
        axes[0].plot(epochs, train.mean(0), color=color, ls="--", lw=1, label=f"{act}: train")
    axes[0].axhline(PAPER_MLP, color="k", ls=":", label="MNIST-1D paper MLP: 68%")
    axes[0].set(
        xlabel="epoch",
        ylabel="accuracy (mean; band: min-max over seeds)",
        ylim=(0, 1.02),
        title=f"MNIST-1D, 40-{args.hidden}-{args.hidden}-10 MLP, {len(seeds)} seeds each",
    )
    axes[0].legend(fontsize=8, ncol=2, loc="lower right")
    for i, act in enumerate(ACTIVATIONS):
        acc = np.asarray(numbers[act]["test_accuracy"])
        axes[1].bar(i, acc.mean(), color=f"C{i}", alpha=0.6)
        axes[1].scatter(np.full(acc.shape, i), acc, color="k", s=12, zorder=3)
        axes[1].text(i, acc.max() + 0.02, f"{acc.mean():.1%}", ha="center")
    axes[1].axhline(PAPER_MLP, color="k", ls=":")
    axes[1].set_xticks(range(len(ACTIVATIONS)), ACTIVATIONS)
    axes[1].set(
        xlabel="hidden activation",
        ylabel="final test accuracy",
        ylim=(0, 1),
        title="Final test accuracy (dots: seeds)",
    )
    plots = [save_figure(fig, args.out / "mlp_activations.png")]
    headline = (
        "test acc "
        + ", ".join(
            f"{a} {means[a]:.1%} +- {numbers[a]['test_accuracy_std']:.1%}" for a in ACTIVATIONS
        )
        + f"; best {best} vs paper 68%"
    )
    numbers.update(best=best, best_mean=means[best], seeds=seeds)
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


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
