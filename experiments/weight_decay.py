"""Weight decay closes the generalization gap; L1 gives sparse weights, L2 small dense ones.

Claim (the digest, section 3, "Weight Decay"; the math paper, section 6.1), on the
Dive-into-Deep-Learning high-dimensional regression ``y = 0.05 + sum_j 0.01 x_j + eps``,
d = 200 features, 20 training and 100 test examples, noise std 0.01:

1. Trained as in D2L (minibatch SGD, batch 5, learning rate 0.003, 100 epochs, ``w ~ N(0, 1)``,
   penalty ``lambda/2 ||w||^2``, hand-written gradients), the generalization gap
   ``test error - training error`` shrinks strictly as ``lambda`` grows over the grid
   ``--lambdas``, and at the largest ``lambda`` it is at least 100x smaller than without decay.
2. Solved to convergence (full-batch proximal gradient from ``w = 0``, step ``1/L``), the L1
   penalty ``lambda ||w||_1`` leaves at least 80% of the 200 weights exactly zero whenever it
   leaves any weight non-zero (a LASSO solution has at most n = 20 non-zeros), while the L2
   penalty ``lambda/2 ||w||^2`` leaves none exactly zero and at most 10% below 1e-4 (1% of the
   true weights), with a smaller largest weight than L1's: small and dense.

Usage::

    python -m experiments.weight_decay [--quick] [--seed 0] [--out results/weight_decay]
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.backprop import linear_regression_grads, linear_regression_sgd_update
from funcnn.data import make_high_dim
from funcnn.train import fit_seeds

NAME = "weight_decay"
CLAIM = (
    "generalization gap falls strictly with lambda (>= 100x smaller at the largest); "
    "L1 solutions >= 80% exact zeros, L2 none (<= 10% below 1e-4) and a smaller largest weight"
)
NEAR_ZERO = 1e-4  # 1% of the true weights 0.01


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--d", type=int, default=200, help="input features (D2L: 200)")
    p.add_argument("--n-train", type=int, default=20, help="training examples (D2L: 20)")
    p.add_argument("--n-test", type=int, default=100, help="test examples (D2L: 100)")
    p.add_argument("--lr", type=float, default=0.003, help="SGD learning rate (D2L: 0.003)")
    p.add_argument("--batch-size", type=int, default=5, help="SGD minibatch (D2L: 5)")
    p.add_argument("--epochs", type=int, default=100, help="SGD epochs (D2L: 100)")
    p.add_argument(
        "--lambdas",
        type=float,
        nargs="+",
        default=[0.0, 0.3, 1.0, 3.0, 10.0],
        help="L2 strengths of the SGD runs (D2L shows 0 and 3)",
    )
    p.add_argument(
        "--penalty-lambdas",
        type=float,
        nargs="+",
        default=[0.003, 0.01, 0.03, 0.1],
        help="strengths of the L1-vs-L2 solutions",
    )
    p.add_argument(
        "--show-lambda", type=float, default=0.01, help="strength whose weights are drawn"
    )
    p.add_argument("--steps", type=int, default=5000, help="full-batch steps to converge")
    return p


def solve_penalized(x, y, lambdas, *, steps: int, lr: float):
    """Minimizers of ``(1/n) sum 1/2 (w^T x_i + b - y_i)^2 + penalty(w)`` for every lambda.

    L2: the digest's weight-decay step ``w <- (1 - eta lambda) w - eta dL/dw``
    (``funcnn.backprop.linear_regression_sgd_update`` on the full batch), i.e. gradient
    descent on the loss plus ``lambda/2 ||w||^2``.

    L1: the proximal-gradient (ISTA) step ``w <- S_{eta lambda}(w - eta dL/dw)`` with the soft
    threshold ``S_t(v) = sign(v) max(|v| - t, 0)``, the exact minimizer of
    ``eta lambda ||w||_1 + 1/2 ||w - v||^2``. A subgradient step ``- eta lambda sign(w)`` would
    overshoot zero every time and never leave a weight exactly at 0; the threshold does.
    With ``eta <= 1/L`` (L the largest eigenvalue of the loss's Hessian) both converge to the
    minimizer from any start; we start from ``w = 0``, ``b = 0``.

    Returns:
        ``(w_l2, w_l1)``, each ``(len(lambdas), d)``, and their biases ``(len(lambdas),)``.
    """
    d = x.shape[1]
    p0 = [{"w": jnp.zeros((d, 1), x.dtype), "b": jnp.zeros((1,), x.dtype)}]

    def l2_step(lam):
        def step(p, _):
            return linear_regression_sgd_update(p, x, y, lr, weight_decay=lam), None

        return jax.lax.scan(step, p0, None, length=steps)[0]

    def l1_step(lam):
        def step(p, _):
            g = linear_regression_grads(p, x, y)  # dL/dw (d, 1), dL/db (1,)
            v = p[0]["w"] - lr * g[0]["w"]
            w = jnp.sign(v) * jnp.maximum(jnp.abs(v) - lr * lam, 0.0)  # S_{eta lambda}(v)
            return [{"w": w, "b": p[0]["b"] - lr * g[0]["b"]}], None

        return jax.lax.scan(step, p0, None, length=steps)[0]

    @jax.jit
    def solve(lams):
        return jax.vmap(l2_step)(lams), jax.vmap(l1_step)(lams)

    p2, p1 = solve(jnp.asarray(lambdas, x.dtype))
    return (
        np.asarray(p2[0]["w"][:, :, 0]),
        np.asarray(p1[0]["w"][:, :, 0]),
        np.asarray(p2[0]["b"][:, 0]),
        np.asarray(p1[0]["b"][:, 0]),
    )


def errors(w, b, x, y):
    """(1/n) sum 1/2 (x w + b - y)^2 for stacked ``w (k, d)``, ``b (k,)``: ``(k,)``."""
    r = x @ w.T + b[None, :] - y  # (n, k)
    return np.mean(0.5 * r**2, axis=0)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 3000)
    if args.show_lambda not in args.penalty_lambdas:
        raise ValueError(
            f"--show-lambda must be one of --penalty-lambdas {args.penalty_lambdas}; "
            f"got {args.show_lambda}."
        )
    key = jax.random.key(args.seed)
    k_data, k_fit = jax.random.split(key)
    fit_seed = int(jax.random.randint(k_fit, (), 0, 2**31 - 1))
    with Timer() as t:
        ds = make_high_dim(k_data, d=args.d, n_train=args.n_train, n_test=args.n_test)
        # 1. D2L: SGD with the L2 penalty, every lambda at once, the same init and batches.
        model = funcnn.linear_regression(args.d, initializer="normal", init_std=1.0)
        runs = fit_seeds(
            model,
            ds,
            [fit_seed],
            grid=("l2", args.lambdas),
            optimizer="sgd",
            lr=args.lr,
            epochs=args.epochs,
            batch_size=args.batch_size,
            grad="manual",
            progress=False,
        )
        train_curve = np.asarray(runs.history["train_loss"])  # (lambdas, epochs)
        test_curve = np.asarray(runs.history["test_loss"])
        gap = test_curve[:, -1] - train_curve[:, -1]
        w_norm = np.linalg.norm(np.asarray(runs.params[0]["w"])[:, :, 0], axis=1)

        # 2. L1 vs L2 minimizers, full batch.
        x = np.asarray(ds.x_train, np.float64)
        a = np.concatenate([x, np.ones((x.shape[0], 1))], axis=1)
        lipschitz = float(np.linalg.eigvalsh(a.T @ a / x.shape[0])[-1])  # L of the data loss
        w2, w1, b2, b1 = solve_penalized(
            jnp.asarray(ds.x_train),
            jnp.asarray(ds.y_train),
            args.penalty_lambdas,
            steps=args.steps,
            lr=1.0 / lipschitz,
        )

    zeros_l1 = (w1 == 0).sum(axis=1)
    zeros_l2 = (w2 == 0).sum(axis=1)
    near_l1 = (np.abs(w1) < NEAR_ZERO).sum(axis=1)
    near_l2 = (np.abs(w2) < NEAR_ZERO).sum(axis=1)
    active = zeros_l1 < args.d  # L1 solutions that keep at least one weight
    d = args.d
    gap_falls = bool(np.all(np.diff(gap) < 0))
    gap_ratio = float(gap[0] / gap[-1])
    sparse = bool(active.any() and np.all(zeros_l1[active] >= 0.8 * d))
    dense = bool(np.all(zeros_l2 == 0) and np.all(near_l2 <= 0.1 * d))
    smaller = bool(np.all(np.abs(w2).max(axis=1)[active] < np.abs(w1).max(axis=1)[active]))
    held = gap_falls and gap_ratio >= 100 and sparse and dense and smaller

    xte, yte = np.asarray(ds.x_test), np.asarray(ds.y_test)
    test_l2, test_l1 = errors(w2, b2, xte, yte), errors(w1, b1, xte, yte)

    plt = pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    ax = axes[0, 0]
    ep = np.arange(1, args.epochs + 1)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(args.lambdas)))
    for i, lam in enumerate(args.lambdas):
        ax.semilogy(ep, train_curve[i], color=colors[i], label=f"lambda={lam:g} train")
        ax.semilogy(ep, test_curve[i], color=colors[i], ls="--", label=f"lambda={lam:g} test")
    ax.set(
        xlabel="epoch",
        ylabel="(1/n) sum 1/2 (y_hat - y)^2",
        title=f"SGD with L2 penalty (d={d}, n={args.n_train}); dashed: test",
    )
    ax.legend(fontsize=7, ncol=2)
    ax = axes[0, 1]
    lam_axis = np.array(args.lambdas)
    pos = np.arange(len(lam_axis))
    ax.semilogy(pos, gap, "o-", label="test - train")
    ax.semilogy(pos, w_norm, "s--", label="||w||_2")
    ax.set_xticks(pos, [f"{v:g}" for v in lam_axis])
    ax.set(xlabel="lambda", ylabel="after training", title="Generalization gap and weight norm")
    ax.legend()
    ax = axes[1, 0]
    j = args.penalty_lambdas.index(args.show_lambda)
    rank = np.arange(1, d + 1)
    floor = 1e-7  # exact zeros drawn at the bottom of the log axis
    ax.semilogy(rank, np.maximum(np.sort(np.abs(w1[j]))[::-1], floor), ".", label="L1")
    ax.semilogy(rank, np.maximum(np.sort(np.abs(w2[j]))[::-1], floor), ".", label="L2")
    ax.axhline(NEAR_ZERO, color="k", ls=":", label=f"near zero: {NEAR_ZERO:g}")
    ax.set(
        xlabel="weight rank (largest first)",
        ylabel="|w_j| (exact zeros drawn at 1e-7)",
        title=f"Minimizer's weights at lambda={args.show_lambda:g}",
    )
    ax.legend()
    ax = axes[1, 1]
    pos = np.arange(len(args.penalty_lambdas))
    ax.plot(pos, zeros_l1, "o-", label="L1: exact zeros")
    ax.plot(pos, near_l2, "s-", label=f"L2: |w| < {NEAR_ZERO:g}")
    ax.plot(pos, zeros_l2, "x--", label="L2: exact zeros")
    ax.set_xticks(pos, [f"{v:g}" for v in args.penalty_lambdas])
    ax.set(
        xlabel="lambda",
        ylabel=f"number of the {d} weights",
        title="Sparsity of the penalized minimizers",
    )
    ax.legend()
    fig.tight_layout()
    plots = [save_figure(fig, args.out / "weight_decay.png")]

    headline = (
        f"gap {gap[0]:.3g} (lambda 0) -> {gap[-1]:.3g} (lambda {args.lambdas[-1]:g}), "
        f"||w|| {w_norm[0]:.3g} -> {w_norm[-1]:.3g}; exact zeros L1 {zeros_l1.tolist()}, "
        f"L2 {zeros_l2.tolist()} of {d}"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "lambdas": args.lambdas,
            "final_train": train_curve[:, -1],
            "final_test": test_curve[:, -1],
            "gap": gap,
            "gap_ratio_first_over_last": gap_ratio,
            "w_norm": w_norm,
            "penalty_lambdas": args.penalty_lambdas,
            "step_size_1_over_L": 1.0 / lipschitz,
            "l1_exact_zeros": zeros_l1,
            "l1_near_zero": near_l1,
            "l2_exact_zeros": zeros_l2,
            "l2_near_zero": near_l2,
            "l1_max_abs_w": np.abs(w1).max(axis=1),
            "l2_max_abs_w": np.abs(w2).max(axis=1),
            "l1_test": test_l1,
            "l2_test": test_l2,
        },
        plots=plots,
        config={"fit_seed": fit_seed},
        wall_time_s=t.seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
