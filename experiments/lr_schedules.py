"""Step-size rules on one problem: constant, 1/k, 1/sqrt(k) SGD, and Adam, Adagrad, RMSProp.

Claim (the lecture's "how to choose the step size": constant ``alpha_k = c``, decaying
``1/k`` and ``1/sqrt(k)``, adaptive ADAM, ADAGRAD, RMSProp), measured on softmax regression on
MNIST-1D (a convex problem; batch 100; SGD base rate eta_0 = 1 for all three SGD rules, large
enough that the constant step reaches its noise floor within the budget; Adam and RMSProp at
1e-2, the MNIST-1D paper's Adam rate, Adagrad at 1e-1). What SGD theory predicts, checked
on the full training loss after each epoch, averaged over seeds:

1. A constant step stalls at a noise floor where the loss keeps jumping; the decaying steps
   damp the jumps: the roughness (RMS of epoch-to-epoch changes over the second half of
   training) of 1/k and of 1/sqrt(k) is at most half the constant step's.
2. 1/k from the same base rate decays too fast (after K updates it has travelled only
   ~ln K base steps): it ends with a higher loss than the constant step.
3. Each adaptive optimizer ends lower than constant-step SGD ("final" = mean over the last
   quarter of the epochs).

The claim is on the means over ``--n-seeds`` runs (5; quick 3); the same checks on each seed's
runs are the record's ``held_draws``, so ``python -m experiments`` runs the study once. Every rule starts from the same initial params and sees the same minibatches (same seeds);
the runs of each rule train at once (``init_states`` + ``make_vmapped_epoch``, one compiled
epoch per rule). The optimizers are funcnn's, written from the papers' update rules
(:mod:`funcnn.optimizers`, through ``make_optimizer(..., impl="funcnn")``), with the papers'
conventions: Adagrad from ``s_0 = 0`` with ``delta + sqrt(s)``, RMSProp with
``sqrt(nu) + eps`` (``--conventions optax`` or ``--optimizer-impl optax`` for optax's).

Usage::

    python -m experiments.lr_schedules [--quick] [--seed 0] [--out results/lr_schedules]
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, run_seeds, save_figure
from funcnn.data import load
from funcnn.train import (
    init_states,
    make_eval_fn,
    make_optimizer,
    make_schedule,
    make_vmapped_epoch,
)
from funcnn.train.optim import CONVENTIONS, IMPLS, resolve_conventions

NAME = "lr_schedules"
CLAIM = (
    "softmax regression on MNIST-1D: 1/k and 1/sqrt(k) SGD are >= 2x smoother than a constant "
    "step at the end; 1/k (same base rate) ends above constant; Adam, Adagrad, RMSProp each end "
    "below constant-step SGD"
)
SGD_RULES = ("constant", "inverse", "inverse_sqrt")
ADAPTIVE = ("adam", "adagrad", "rmsprop")
LABELS = {
    "sgd/constant": "SGD, constant",
    "sgd/inverse": "SGD, 1/k",
    "sgd/inverse_sqrt": "SGD, 1/sqrt(k)",
    "adam": "Adam",
    "adagrad": "Adagrad",
    "rmsprop": "RMSProp",
}
SMOOTHER = 2.0  # decaying steps: roughness at most constant's / 2


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--sgd-lr", type=float, default=1.0, help="base rate eta_0 of the SGD rules")
    p.add_argument("--adam-lr", type=float, default=1e-2, help="Adam learning rate")
    p.add_argument("--rmsprop-lr", type=float, default=1e-2, help="RMSProp learning rate")
    p.add_argument("--adagrad-lr", type=float, default=1e-1, help="Adagrad learning rate")
    p.add_argument("--epochs", type=int, default=100, help="passes over the 4,000 sequences")
    p.add_argument("--batch-size", type=int, default=100, help="minibatch size")
    p.add_argument("--n-seeds", type=int, default=5, help="runs per rule (vmapped)")
    p.add_argument(
        "--optimizer-impl",
        choices=sorted(IMPLS),
        default="funcnn",
        help="funcnn's optimizers (from the papers) or optax's (default: %(default)s)",
    )
    p.add_argument(
        "--conventions",
        choices=sorted(CONVENTIONS),
        help="of funcnn's optimizers (default: paper; optax's with --optimizer-impl optax)",
    )
    return p


def rules(args) -> dict:
    """name -> (optimizer, schedule k -> eta_k or None)."""
    impl = dict(impl=args.optimizer_impl, conventions=args.conventions)
    out = {}
    for name in SGD_RULES:
        sched = make_schedule(name, args.sgd_lr)  # eta_0, eta_0/(1+k), eta_0/sqrt(1+k)
        out[f"sgd/{name}"] = (make_optimizer("sgd", sched, **impl), sched)
    for name in ADAPTIVE:
        out[name] = (make_optimizer(name, getattr(args, f"{name}_lr"), **impl), None)
    return out


def roughness(losses: np.ndarray) -> np.ndarray:
    """RMS of epoch-to-epoch changes of the loss over the second half: ``(runs, E) -> (runs,)``."""
    half = losses[:, losses.shape[1] // 2 :]
    return np.sqrt(np.mean(np.diff(half, axis=1) ** 2, axis=1))


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.epochs, args.n_seeds = min(args.epochs, 30), min(args.n_seeds, 3)
    seeds = run_seeds(jax.random.fold_in(jax.random.key(args.seed), 0), args.n_seeds)
    data = load("mnist1d")
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train, jnp.int32)
    model = funcnn.softmax_regression(x.shape[1], data.n_classes)
    loss = "softmax_cross_entropy"
    evaluate = jax.jit(jax.vmap(make_eval_fn(model, loss), in_axes=(0, None, None)))
    n_batches = len(x) // args.batch_size
    curves = {}
    with Timer() as t:
        for name, (opt, _) in rules(args).items():
            states = init_states(model, opt, seeds)  # same init for every rule
            epoch = make_vmapped_epoch(model, loss, opt, batch_size=args.batch_size)
            per_epoch = []
            for _ in range(args.epochs):
                states, _ = epoch(states, x, y)  # one compiled call: n_batches updates per run
                per_epoch.append(np.asarray(evaluate(states.params, x, y)["loss"]))  # (runs,)
            curves[name] = np.stack(per_epoch, axis=1)  # (runs, epochs)

    q = max(args.epochs // 4, 1)
    numbers = {}
    for name, c in curves.items():
        final = c[:, -q:].mean(axis=1)
        rough = roughness(c)
        numbers[name] = {
            "final_loss": final.tolist(),
            "final_loss_mean": float(final.mean()),
            "roughness": rough.tolist(),
            "roughness_mean": float(rough.mean()),
            "best_loss_mean": float(c.min(axis=1).mean()),
        }
    fin = {k: v["final_loss_mean"] for k, v in numbers.items()}
    rgh = {k: v["roughness_mean"] for k, v in numbers.items()}
    smoother = all(rgh[f"sgd/{r}"] * SMOOTHER <= rgh["sgd/constant"] for r in SGD_RULES[1:])
    inverse_slow = fin["sgd/inverse"] > fin["sgd/constant"]
    adaptive_lower = all(fin[a] < fin["sgd/constant"] for a in ADAPTIVE)
    held = smoother and inverse_slow and adaptive_lower
    # The same three checks on each seed's runs (every rule trains the same seeds): held_draws.
    fin_s = {k: np.asarray(v["final_loss"]) for k, v in numbers.items()}
    rgh_s = {k: np.asarray(v["roughness"]) for k, v in numbers.items()}
    per_seed = np.all(
        [rgh_s[f"sgd/{r}"] * SMOOTHER <= rgh_s["sgd/constant"] for r in SGD_RULES[1:]], 0
    )
    per_seed &= fin_s["sgd/inverse"] > fin_s["sgd/constant"]
    per_seed &= np.all([fin_s[a] < fin_s["sgd/constant"] for a in ADAPTIVE], 0)

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.3), gridspec_kw={"width_ratios": [3, 2, 2]})
    epochs = np.arange(1, args.epochs + 1)
    for i, (name, c) in enumerate(curves.items()):
        ls = "-" if name.startswith("sgd") else "--"
        axes[0].plot(epochs, c.mean(0), color=f"C{i}", ls=ls, label=LABELS[name])
    lo = min(c.mean(0).min() for c in curves.values())
    axes[0].set(
        xlabel="epoch (40 updates each)" if n_batches == 40 else "epoch",
        ylabel=f"full training loss (mean of {len(seeds)} seeds)",
        ylim=(lo - 0.01, lo + 0.35),
        title="Softmax regression on MNIST-1D: training loss",
    )
    axes[0].legend(fontsize=8, ncol=2)
    k = np.arange(1, args.epochs * n_batches + 1)
    for i, (name, (_, sched)) in enumerate(rules(args).items()):
        if sched is not None:
            eta = np.broadcast_to(np.asarray(sched(k - 1)), k.shape)  # eta_k, k = 0, 1, ...
            axes[1].loglog(k, eta, color=f"C{i}", label=LABELS[name])
    axes[1].set(xlabel="update k", ylabel="SGD step size eta_k", title="The three SGD rules")
    axes[1].legend(fontsize=8)
    names = list(curves)
    axes[2].bar(range(len(names)), [rgh[n] for n in names], color=[f"C{i}" for i in range(6)])
    axes[2].set_yscale("log")
    axes[2].set_xticks(range(len(names)), [LABELS[n] for n in names], rotation=30, ha="right")
    axes[2].set(
        ylabel="RMS epoch-to-epoch loss change (2nd half)",
        title="Roughness at the end of training",
    )
    plots = [save_figure(fig, args.out / "lr_schedules.png")]
    headline = (
        "final loss "
        + ", ".join(f"{LABELS[n]} {fin[n]:.4f}" for n in names)
        + "; roughness constant/1/k/1/sqrt(k) "
        + "/".join(f"{rgh[f'sgd/{r}']:.4f}" for r in SGD_RULES)
    )
    numbers.update(
        optimizer_impl=args.optimizer_impl,
        conventions=resolve_conventions(args.optimizer_impl, args.conventions),
        seeds=seeds,
        smoother=smoother,
        inverse_decays_too_fast=inverse_slow,
        adaptive_below_constant=adaptive_lower,
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers=numbers,
        plots=plots,
        wall_time_s=t.seconds,
        held_draws=per_seed.tolist(),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
