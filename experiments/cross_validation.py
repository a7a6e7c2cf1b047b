"""K-fold cross-validation picks a weight-decay strength whose test error is near the best.

Claim (the digest, section 3, "Cross Validation"), on the Dive-into-Deep-Learning
weight-decay problem (d = 200 features, 20 training and 100 test examples, trained as in D2L:
minibatch SGD, learning rate 0.003, 100 epochs, ``w ~ N(0, 1)``, penalty ``lambda/2 ||w||^2``,
hand-written gradients): 5-fold cross-validation on the 20 training examples
(``funcnn.data.kfold_indices``; train on 4 folds, validate on the 5th, average the 5 validation
errors) selects a ``lambda`` from ``--lambdas`` whose test error, after retraining on all 20
examples, is within 50% of the best test error on the grid (whose test errors span four orders
of magnitude), and at least 10x below the test error without weight decay.

Why 50% and not less: the near-best strengths (here ``lambda`` = 10, 30, 100) form a plateau on
which the best model beats the most regularized one (``lambda`` = 100, nearly a constant
predictor) by only 0-35% in the draws we tried: with 20 examples of a 200-dimensional signal
little can be learnt. Validation folds of 4 examples cannot rank the plateau reliably: for some
draws of the 20 training examples the validation error prefers ``lambda`` = 100 with K = 5, 10
and 20 alike, at about 1.3x the best test error.

Measured alongside (not part of the claim): the same procedure choosing the degree of a
least-squares polynomial on D2L's polynomial data (100 points, 5 folds). Its validation curve
has the test curve's shape, but with 20-point folds the choice among the near-equivalent
degrees 3-6 is noisy, and a degree that extrapolates badly can be chosen for some draws; the
JSON records the ratio for this draw.

Usage::

    python -m experiments.cross_validation [--quick] [--seed 0] [--out results/cross_validation]
"""

from __future__ import annotations

import sys

import jax
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.data import kfold_indices, make_high_dim, make_polynomial
from funcnn.train import init_state, make_epoch_fn, make_eval_fn, make_optimizer

NAME = "cross_validation"
CLAIM = (
    "5-fold CV selects a weight-decay lambda whose test error is within 50% of the grid's best "
    "and >= 10x below lambda = 0's"
)


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--k", type=int, default=5, help="number of folds K")
    p.add_argument("--d", type=int, default=200, help="input features (D2L: 200)")
    p.add_argument("--n-train", type=int, default=20, help="training examples (D2L: 20)")
    p.add_argument("--n-test", type=int, default=100, help="test examples (D2L: 100)")
    p.add_argument("--lr", type=float, default=0.003, help="SGD learning rate (D2L: 0.003)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=5,
        help="minibatch on all n-train examples (D2L: 5); the folds use (K-1)/K of it, so "
        "every run makes the same number of updates",
    )
    p.add_argument("--epochs", type=int, default=100, help="SGD epochs (D2L: 100)")
    p.add_argument(
        "--lambdas",
        type=float,
        nargs="+",
        default=[0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0],
        help="the weight-decay grid",
    )
    p.add_argument("--poly-n", type=int, default=100, help="points of the degree selection")
    p.add_argument("--max-degree", type=int, default=20, help="highest degree considered")
    return p


def make_trainer(d: int, *, lr: float, epochs: int):
    """``f(key, lam, x_tr, y_tr, x_ev, y_ev, batch_size) -> error on (x_ev, y_ev)`` after D2L
    training with penalty ``lam/2 ||w||^2``; vmapped over lambdas (inner) and data sets
    (outer, e.g. the K folds) and jitted (``batch_size`` static)."""
    model = funcnn.linear_regression(d, initializer="normal", init_std=1.0)  # D2L: w ~ N(0, 1)
    opt = make_optimizer("sgd", lr)
    evaluate = make_eval_fn(model, "mse")

    def train_eval(key, lam, x_tr, y_tr, x_ev, y_ev, batch_size):
        epoch = make_epoch_fn(model, "mse", opt, batch_size=batch_size, grad="manual", l2=lam)
        state = init_state(model, opt, key)
        state, _ = jax.lax.scan(
            lambda s, _: (epoch(s, x_tr, y_tr)[0], None), state, None, length=epochs
        )
        return evaluate(state.params, x_ev, y_ev)["loss"]

    over_lambdas = jax.vmap(train_eval, in_axes=(None, 0, None, None, None, None, None))
    over_sets = jax.vmap(over_lambdas, in_axes=(None, None, 0, 0, 0, 0, None))
    return jax.jit(over_sets, static_argnums=6)


def stack_folds(x, y, folds):
    """``(K, n_tr, ...)`` training and ``(K, n_val, ...)`` validation arrays of the folds.

    Requires equal fold sizes (``n % K == 0``) so the folds stack for ``jax.vmap``.
    """
    sizes = {len(v) for _, v in folds}
    if len(sizes) != 1:
        raise ValueError(
            f"the folds must have equal sizes to be trained together; got sizes {sorted(sizes)} "
            f"(choose --k dividing --n-train)."
        )
    return (
        np.stack([x[t] for t, _ in folds]),
        np.stack([y[t] for t, _ in folds]),
        np.stack([x[v] for _, v in folds]),
        np.stack([y[v] for _, v in folds]),
    )


def degree_selection(key, n: int, k: int, max_degree: int):
    """K-fold CV over polynomial degrees with least-squares fits (D2L's polynomial data)."""
    k_data, k_folds = jax.random.split(key)
    ds = make_polynomial(k_data, n_train=n, n_test=100, degree=max_degree)
    x, y = np.asarray(ds.x_train, np.float64), np.asarray(ds.y_train, np.float64)
    xt, yt = np.asarray(ds.x_test, np.float64), np.asarray(ds.y_test, np.float64)

    def err(x_tr, y_tr, x_ev, y_ev, deg):
        theta, *_ = np.linalg.lstsq(x_tr[:, : deg + 1], y_tr, rcond=None)
        return float(np.mean(0.5 * (x_ev[:, : deg + 1] @ theta - y_ev) ** 2))

    folds = kfold_indices(n, k, k_folds)
    degrees = range(max_degree + 1)
    cv = np.array([np.mean([err(x[t], y[t], x[v], y[v], g) for t, v in folds]) for g in degrees])
    test = np.array([err(x, y, xt, yt, g) for g in degrees])
    return cv, test


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    key = jax.random.key(args.seed)
    k_data, k_folds, k_init, k_poly = jax.random.split(key, 4)
    lambdas = np.asarray(args.lambdas, np.float32)
    fold_batch = max(1, round(args.batch_size * (args.k - 1) / args.k))
    with Timer() as t:
        ds = make_high_dim(k_data, d=args.d, n_train=args.n_train, n_test=args.n_test)
        folds = kfold_indices(args.n_train, args.k, k_folds)
        train_eval = make_trainer(args.d, lr=args.lr, epochs=args.epochs)
        fold_data = stack_folds(ds.x_train, ds.y_train, folds)
        val = np.asarray(train_eval(k_init, lambdas, *fold_data, fold_batch))  # (K, lambdas)
        full = (ds.x_train[None], ds.y_train[None], ds.x_test[None], ds.y_test[None])
        test = np.asarray(train_eval(k_init, lambdas, *full, args.batch_size))[0]  # (lambdas,)
        poly_cv, poly_test = degree_selection(k_poly, args.poly_n, args.k, args.max_degree)

    cv = val.mean(axis=0)
    chosen, best = int(np.argmin(cv)), int(np.argmin(test))
    ratio = float(test[chosen] / test[best])
    no_decay = [i for i, v in enumerate(args.lambdas) if v == 0.0]
    vs_zero = float(test[no_decay[0]] / test[chosen]) if no_decay else float("nan")
    held = bool(ratio <= 1.5 and (not no_decay or vs_zero >= 10))
    deg_chosen, deg_best = int(np.argmin(poly_cv)), int(np.argmin(poly_test))
    deg_ratio = float(poly_test[deg_chosen] / poly_test[deg_best])

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    pos = np.arange(len(lambdas))
    ax = axes[0]
    ax.errorbar(
        pos,
        cv,
        yerr=val.std(axis=0),
        fmt="o-",
        capsize=3,
        label=f"{args.k}-fold validation error (mean +- std over folds)",
    )
    ax.semilogy(pos, test, "s--", label="test error, retrained on all examples")
    ax.axvline(
        chosen, color="tab:blue", lw=0.8, ls=":", label=f"CV choice: {args.lambdas[chosen]:g}"
    )
    ax.axvline(
        best, color="tab:orange", lw=0.8, ls="-.", label=f"best on test: {args.lambdas[best]:g}"
    )
    ax.set_xticks(pos, [f"{v:g}" for v in args.lambdas])
    ax.set_yscale("log")
    ax.set(
        xlabel="weight decay lambda",
        ylabel="(1/n) sum 1/2 (y_hat - y)^2",
        title=f"Choosing lambda (d={args.d}, n={args.n_train})",
    )
    ax.legend(fontsize=8)
    ax = axes[1]
    deg = np.arange(args.max_degree + 1)
    ax.semilogy(deg, poly_cv, "o-", label=f"{args.k}-fold validation error")
    ax.semilogy(deg, poly_test, "s--", label="test error")
    ax.axvline(deg_chosen, color="tab:blue", lw=0.8, ls=":", label=f"CV choice: {deg_chosen}")
    ax.axvline(deg_best, color="tab:orange", lw=0.8, ls="-.", label=f"best on test: {deg_best}")
    ax.set(
        xlabel="polynomial degree (least squares)",
        ylabel="(1/n) sum 1/2 (y_hat - y)^2",
        title=f"Choosing the degree (n={args.poly_n}; not part of the claim)",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    plots = [save_figure(fig, args.out / "cross_validation.png")]

    headline = (
        f"CV picks lambda={args.lambdas[chosen]:g} (test {test[chosen]:.3g}), best "
        f"lambda={args.lambdas[best]:g} (test {test[best]:.3g}): ratio {ratio:.3f}; "
        f"lambda=0 test {vs_zero:.3g}x worse; degree: CV {deg_chosen}, best {deg_best}"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "lambdas": args.lambdas,
            "cv_error": cv,
            "cv_error_per_fold": val,
            "test_error": test,
            "chosen_lambda": args.lambdas[chosen],
            "best_lambda": args.lambdas[best],
            "test_ratio_chosen_over_best": ratio,
            "test_ratio_no_decay_over_chosen": vs_zero,
            "fold_sizes": [[len(tr), len(v)] for tr, v in folds],
            "fold_batch_size": fold_batch,
            "degree_cv_error": poly_cv,
            "degree_test_error": poly_test,
            "chosen_degree": deg_chosen,
            "best_degree": deg_best,
            "degree_test_ratio_chosen_over_best": deg_ratio,
        },
        plots=plots,
        wall_time_s=t.seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
