"""Minibatch SGD with the hand-written update recovers w and b, and matches the normal equation.

Claim (the digest, section 3, in the Dive-into-Deep-Learning setup: ``y = X w + b + eps`` with
w = (2, -3.4), b = 4.2, 1,000 examples, noise std sigma = 0.01): three epochs of minibatch SGD
(batch 10, learning rate 0.03) with the digest's update
``w <- w - (eta/|B|) sum_i x_i (w^T x_i + b - y_i)``, ``b <- b - (eta/|B|) sum_i (w^T x_i + b - y_i)``
(``funcnn.backprop.linear_regression_sgd_update``) recovers every parameter to within the
noise (``|error| < sigma``); it lands within ``0.2 sigma`` of the normal-equation (least-squares)
solution, whose training loss it matches to 5% (with a constant step SGD keeps jittering around
the minimizer, with a standard deviation of about ``sqrt(eta sigma^2 / (2 |B|)) = 0.04 sigma``
per coordinate here; 0.2 sigma is five of those); and the Gaussian negative log-likelihood
``sum_i 1/2 log(2 pi s^2) + (y_i - w^T x_i - b)^2 / (2 s^2)`` has the same minimizer: its gradient
in ``(w, b)`` is exactly ``n / s^2`` times the squared loss's (relative deviation < 1e-9 in
float64, at random points and widths s), its gradient in ``(w, b, log s)`` vanishes (< 1e-8) at
the least-squares ``(w, b)`` with ``s^2`` = mean squared residual, and on a grid over
``(w1, w2)`` both losses take their minimum at the same cell.

Usage::

    python -m experiments.linear_regression [--quick] [--seed 0] [--out results/linear_regression]
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.backprop import linear_regression_sgd_update
from funcnn.data import epoch_batches, make_linear

NAME = "linear_regression"
CLAIM = (
    "minibatch SGD (hand-written update) recovers w, b to within the noise sigma, lands within "
    "0.2 sigma of the normal equation; Gaussian NLL and squared loss share the minimizer"
)
TRUE_W = (2.0, -3.4)
TRUE_B = 4.2


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--n", type=int, default=1000, help="training examples (D2L: 1,000)")
    p.add_argument("--noise", type=float, default=0.01, help="noise std sigma (D2L: 0.01)")
    p.add_argument("--batch-size", type=int, default=10, help="minibatch size |B| (D2L: 10)")
    p.add_argument("--lr", type=float, default=0.03, help="learning rate eta (D2L: 0.03)")
    p.add_argument("--epochs", type=int, default=3, help="passes over the data (D2L: 3)")
    p.add_argument("--grid", type=int, default=101, help="grid points per axis for the NLL check")
    return p


def sgd_run(params, key, x, y, *, lr: float, batch_size: int, epochs: int):
    """``epochs`` passes of the digest's minibatch update, one compiled scan.

    Returns:
        the final params and the full-data loss (1/n) sum_i 1/2 (y_hat_i - y_i)^2 before the
        first update and after every update, ``(epochs * (n // batch_size) + 1,)``.
    """
    model = funcnn.linear_regression(x.shape[1])

    def full_loss(p):
        return funcnn.mse(model.apply(p, x), y)

    def update(p, batch):
        xb, yb = batch  # (B, d), (B, 1)
        p = linear_regression_sgd_update(p, xb, yb, lr)
        return p, full_loss(p)

    def epoch(p, epoch_key):
        xb, yb = epoch_batches(epoch_key, x, y, batch_size)  # (n_batches, B, ...)
        return jax.lax.scan(update, p, (xb, yb))

    @jax.jit
    def run(p):
        p, losses = jax.lax.scan(epoch, p, jax.random.split(key, epochs))
        return p, jnp.concatenate([full_loss(params)[None], losses.reshape(-1)])

    return run(params)


def normal_equation(x, y):
    """Least squares on [X, 1] in float64: ``(w (d,), b)`` minimizing sum (y - X w - b)^2."""
    a = np.concatenate([np.asarray(x, np.float64), np.ones((x.shape[0], 1))], axis=1)
    theta = np.linalg.solve(a.T @ a, a.T @ np.asarray(y, np.float64)[:, 0])  # (X^T X) theta = X^T y
    return theta[:-1], float(theta[-1])


def gaussian_nll(w, b, log_s, x, y):
    """-log P(y | X) = sum_i 1/2 log(2 pi s^2) + (y_i - w^T x_i - b)^2 / (2 s^2) (the digest)."""
    s2 = jnp.exp(2.0 * log_s)
    r = y[:, 0] - x @ w - b  # (n,)
    return jnp.sum(0.5 * jnp.log(2.0 * jnp.pi * s2) + r**2 / (2.0 * s2))


def squared_loss(w, b, x, y):
    """(1/n) sum_i 1/2 (w^T x_i + b - y_i)^2 (the digest, eq. 7)."""
    r = x @ w + b - y[:, 0]
    return jnp.mean(0.5 * r**2)


def nll_study(key, x, y, w_ne, b_ne, *, grid: int):
    """The checks that the Gaussian NLL and the squared loss have the same minimizer (float64).

    1. ``grad_{w,b} NLL = (n / s^2) grad_{w,b} squared loss`` at random points and widths s
       (``jax.grad`` of both), so the two vanish at the same ``(w, b)`` for every s;
    2. the gradient of the NLL in ``(w, b, log s)`` vanishes at the least-squares ``(w, b)``
       with ``s^2 = mean residual^2``: the least-squares fit is the maximum-likelihood fit;
    3. on a ``grid x grid`` lattice of ``(w1, w2)`` around it (b at its least-squares value)
       both losses take their minimum at the same cell.
    """
    n = x.shape[0]
    resid = y[:, 0].astype(np.float64) - x.astype(np.float64) @ w_ne - b_ne
    s_mle = float(np.sqrt(np.mean(resid**2)))  # argmin_s NLL(w_ne, b_ne, s)
    half = 50.0 * s_mle / np.sqrt(n)  # +-50 standard errors of the estimates
    w1 = w_ne[0] + np.linspace(-half, half, grid)
    w2 = w_ne[1] + np.linspace(-half, half, grid)
    grid_w = np.stack(np.meshgrid(w1, w2, indexing="ij"), axis=-1).reshape(-1, 2)
    with jax.enable_x64(True):
        x64, y64 = jnp.asarray(x, jnp.float64), jnp.asarray(y, jnp.float64)
        kp, ks = jax.random.split(key)
        pts = jax.random.normal(kp, (8, 3), jnp.float64) * 3.0 + jnp.array([[*TRUE_W, TRUE_B]])
        log_s = jax.random.uniform(ks, (8,), jnp.float64, -5.0, 1.0)

        @jax.jit
        def checks(pts, log_s, theta_ls, log_s_mle, grid_w):
            g_nll = jax.vmap(jax.grad(gaussian_nll, argnums=(0, 1)), in_axes=(0, 0, 0, None, None))
            g_sq = jax.vmap(jax.grad(squared_loss, argnums=(0, 1)), in_axes=(0, 0, None, None))
            gn = g_nll(pts[:, :2], pts[:, 2], log_s, x64, y64)
            gs = g_sq(pts[:, :2], pts[:, 2], x64, y64)
            gn = jnp.concatenate([gn[0], gn[1][:, None]], axis=1)  # (8, 3)
            gs = (
                jnp.concatenate([gs[0], gs[1][:, None]], axis=1) * (n / jnp.exp(2 * log_s))[:, None]
            )
            ratio_dev = jnp.max(jnp.abs(gn - gs) / jnp.abs(gs))
            # gradient of the per-example NLL in (w, b, log s) at the least-squares fit
            g_at_ls = jax.grad(lambda th: gaussian_nll(th[:2], th[2], th[3], x64, y64) / n)(
                jnp.concatenate([theta_ls, log_s_mle[None]])
            )
            sq = jax.vmap(squared_loss, in_axes=(0, None, None, None))(
                grid_w, theta_ls[2], x64, y64
            )
            nll = jax.vmap(gaussian_nll, in_axes=(0, None, None, None, None))(
                grid_w, theta_ls[2], log_s_mle, x64, y64
            )
            return ratio_dev, jnp.max(jnp.abs(g_at_ls)), sq, nll

        ratio_dev, g_at_ls, sq, nll = checks(
            pts, log_s, jnp.asarray([*w_ne, b_ne]), jnp.log(s_mle), jnp.asarray(grid_w)
        )
        sq, nll = np.asarray(sq).reshape(grid, grid), np.asarray(nll).reshape(grid, grid)
    return {
        "nll_grad_ratio_max_rel_dev": float(ratio_dev),
        "mle_s": s_mle,
        "nll_grad_at_least_squares_max_abs": float(g_at_ls),
        "grid_argmin_squared": [int(i) for i in np.unravel_index(np.argmin(sq), sq.shape)],
        "grid_argmin_nll": [int(i) for i in np.unravel_index(np.argmin(nll), nll.shape)],
        "_grid": (w1, w2, sq, nll),
    }


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:  # the D2L setup is already small; only the NLL checks shrink
        args.grid = min(args.grid, 41)
    key = jax.random.key(args.seed)
    k_data, k_init, k_shuffle, k_nll = jax.random.split(key, 4)
    with Timer() as t:
        x, y = make_linear(k_data, n=args.n, w=TRUE_W, b=TRUE_B, noise=args.noise)
        xj, yj = jnp.asarray(x), jnp.asarray(y)
        params0 = funcnn.linear_regression(x.shape[1]).init(k_init)  # w ~ N(0, 0.01^2), b = 0
        params, losses = sgd_run(
            params0, k_shuffle, xj, yj, lr=args.lr, batch_size=args.batch_size, epochs=args.epochs
        )
        losses = np.asarray(losses)
        w_sgd = np.asarray(params[0]["w"][:, 0], np.float64)
        b_sgd = float(params[0]["b"][0])
        w_ne, b_ne = normal_equation(x, y)
        loss_ne = float(np.mean(0.5 * (x @ w_ne + b_ne - y[:, 0]) ** 2))
        nll = nll_study(k_nll, x, y, w_ne, b_ne, grid=args.grid)

    truth = np.array([*TRUE_W, TRUE_B])
    theta_sgd = np.array([*w_sgd, b_sgd])
    theta_ne = np.array([*w_ne, b_ne])
    err_sgd = np.abs(theta_sgd - truth)
    err_ne = np.abs(theta_ne - truth)
    sgd_vs_ne = float(np.max(np.abs(theta_sgd - theta_ne)))
    loss_ratio = float(losses[-1] / loss_ne)
    sigma = args.noise
    held = bool(
        err_sgd.max() < sigma
        and err_ne.max() < sigma
        and sgd_vs_ne < 0.2 * sigma
        and loss_ratio < 1.05
        and nll["nll_grad_ratio_max_rel_dev"] < 1e-9
        and nll["nll_grad_at_least_squares_max_abs"] < 1e-8
        and nll["grid_argmin_squared"] == nll["grid_argmin_nll"]
    )

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    k = np.arange(losses.size)
    axes[0].semilogy(k, losses, lw=1, label="SGD, full-data loss after each update")
    axes[0].axhline(loss_ne, color="k", ls="--", label=f"normal equation: {loss_ne:.2e}")
    axes[0].axhline(
        sigma**2 / 2, color="tab:red", ls=":", label=f"sigma^2 / 2 = {sigma**2 / 2:.1e}"
    )
    per_epoch = args.n // args.batch_size
    for e in range(1, args.epochs):
        axes[0].axvline(e * per_epoch, color="0.8", lw=0.8)
    axes[0].set(
        xlabel="update k (grey lines: epoch boundaries)",
        ylabel="(1/n) sum 1/2 (y_hat - y)^2",
        title=f"Minibatch SGD, B={args.batch_size}, eta={args.lr}",
    )
    axes[0].legend(fontsize=8)
    labels = ["w1", "w2", "b"]
    xpos = np.arange(3)
    axes[1].bar(xpos - 0.2, err_sgd, 0.4, label="SGD")
    axes[1].bar(xpos + 0.2, err_ne, 0.4, label="normal equation")
    axes[1].axhline(sigma, color="tab:red", ls=":", label=f"noise sigma = {sigma}")
    axes[1].set_yscale("log")
    axes[1].set_xticks(xpos, labels)
    axes[1].set(ylabel="|estimate - true value|", title="Recovery of w = (2, -3.4), b = 4.2")
    axes[1].legend(fontsize=8)
    w1, w2, sq, nl = nll.pop("_grid")
    mid = len(w2) // 2
    sq_c, nl_c = sq[:, mid] - sq[:, mid].min(), nl[:, mid] - nl[:, mid].min()
    axes[2].plot(w1 - w_ne[0], sq_c / sq_c.max(), label="squared loss (rescaled)")
    axes[2].plot(w1 - w_ne[0], nl_c / nl_c.max(), "--", label="Gaussian NLL (rescaled)")
    i1 = nll["grid_argmin_squared"][0]
    axes[2].axvline(w1[i1] - w_ne[0], color="k", lw=0.8, label="common argmin")
    axes[2].set(
        xlabel="w1 - w1(least squares), other parameters at least squares",
        ylabel="(loss - min) / range",
        title="Same minimizer: NLL = (n / s^2) x squared loss + const",
    )
    axes[2].legend(fontsize=8)
    axes[2].tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    plots = [save_figure(fig, args.out / "linear_regression.png")]

    headline = (
        f"SGD error max {err_sgd.max():.1e} (sigma {sigma}), |SGD - normal eq.| {sgd_vs_ne:.1e}, "
        f"loss ratio {loss_ratio:.3f}; NLL grad at LS fit {nll['nll_grad_at_least_squares_max_abs']:.0e}, "
        f"grad ratio dev {nll['nll_grad_ratio_max_rel_dev']:.0e}"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "w_sgd": w_sgd,
            "b_sgd": b_sgd,
            "w_normal_equation": w_ne,
            "b_normal_equation": b_ne,
            "abs_error_sgd": err_sgd,
            "abs_error_normal_equation": err_ne,
            "sgd_vs_normal_equation_max_abs": sgd_vs_ne,
            "final_loss_sgd": float(losses[-1]),
            "loss_normal_equation": loss_ne,
            "loss_ratio_sgd_over_normal_equation": loss_ratio,
            "loss_per_epoch": losses[::per_epoch],
            **nll,
        },
        plots=plots,
        wall_time_s=t.seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
