"""One hidden layer of growing width approximates a continuous function in the sup norm.

Claim (the math paper, Theorem 1, universal approximation; the lecture: a single layer "can
approximate f with arbitrarily small error if the size of the layer is large enough"): for the
continuous, non-smooth target f(x) = sin(2 pi x) + |x| / 2 on the compact interval [-1, 1], a
tanh network with one hidden layer of width n, trained by gradient descent, reaches a sup-norm
error max_x |f_n(x) - f(x)| (on a grid 16 times denser than the training points) that falls
with the width: at the largest width it is below 0.1 times the error at width 1, and the
least-squares slope of log(error) against log(width) is negative (best of ``--restarts``
initializations per width: the theorem is about the existence of good weights, which training
finds, not always).

What the numbers show beyond the claim: the error falls steeply up to about 8 units, then
levels off just below 0.02. That floor is the optimizer's (the training loss stops at about
3e-5 whatever the width), not the network's capacity; so the error is not monotone in the width
at the top of the range, and the claim does not say it is.

All widths train at once, in one compiled program: a width-n network is the widest network
with its hidden units n+1, ... switched off (their outputs multiplied by 0, which also zeroes
their gradients), passed to ``funcnn.backprop.mlp_forward`` as fixed 0/1 masks; the gradient is
the hand-written delta recursion, the optimizer funcnn.train's Adam with a cosine schedule,
full batch, and ``jax.vmap`` runs every (width, restart) pair side by side.

Usage::

    python -m experiments.universal_approximation [--quick] [--seed 0]
        [--out results/universal_approximation]
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.backprop import loss_backward, loss_forward, mlp_backward, mlp_forward
from funcnn.train import make_optimizer, make_schedule

NAME = "universal_approximation"
CLAIM = (
    "sup-norm error of a 1-hidden-layer tanh net on f(x) = sin(2 pi x) + |x|/2 over [-1, 1] "
    "falls with width: largest width < 0.1 x width 1; slope of log error on log width < 0"
)
FRACTION = 0.1  # error at the largest width / error at the smallest width must be below this


def target(x):
    """f(x) = sin(2 pi x) + |x| / 2: continuous on [-1, 1], with a kink at 0."""
    return jnp.sin(2.0 * jnp.pi * x) + 0.5 * jnp.abs(x)


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument(
        "--widths",
        type=int,
        nargs="+",
        default=[1, 2, 4, 8, 16, 32, 64, 128],
        help="hidden widths n (increasing)",
    )
    p.add_argument("--activation", default="tanh", help="hidden activation (non-polynomial)")
    p.add_argument("--n-train", type=int, default=256, help="equispaced training points")
    p.add_argument("--grid-factor", type=int, default=16, help="evaluation grid / training grid")
    p.add_argument("--steps", type=int, default=5000, help="full-batch Adam steps")
    p.add_argument("--lr", type=float, default=1e-2, help="peak learning rate (cosine schedule)")
    p.add_argument("--restarts", type=int, default=4, help="initializations per width (best kept)")
    return p


def hidden_mask(width: int, n_max: int, batch: int, dtype=jnp.float32):
    """``(batch, n_max)``: 1 on the first ``width`` hidden units, 0 on the others."""
    row = (jnp.arange(n_max) < width).astype(dtype)
    return jnp.broadcast_to(row[None, :], (batch, n_max))


def make_train(model, optimizer, x, y, x_eval, y_eval, steps: int):
    """``train(key, width) -> (sup_error, rms_error, losses (steps,), f_n on x_eval)``."""
    n_max = model.sizes[1]

    def value_and_grad(params, mask):
        out, cache = mlp_forward(model, params, x, masks=[mask])  # z_2 = f_n(x)
        value, loss_cache = loss_forward("mse", out, y)
        dout, _ = loss_backward("mse", loss_cache)
        grads, _, _ = mlp_backward(model, params, cache, dout)  # the delta recursion
        return value, grads

    def train(key, width):
        mask = hidden_mask(width, n_max, x.shape[0], x.dtype)
        params = model.init(key)

        def step(carry, _):
            params, opt_state = carry
            loss, grads = value_and_grad(params, mask)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, _), losses = jax.lax.scan(
            step, (params, optimizer.init(params)), None, length=steps
        )
        mask_eval = hidden_mask(width, n_max, x_eval.shape[0], x.dtype)
        f_n, _ = mlp_forward(model, params, x_eval, masks=[mask_eval])
        err = jnp.abs(f_n - y_eval)
        return jnp.max(err), jnp.sqrt(jnp.mean(err * err)), losses, f_n[:, 0]

    return train


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.widths, args.steps, args.restarts = [1, 4, 16, 64], 2000, 2
    widths = sorted(set(args.widths))
    if widths[0] < 1:
        raise ValueError(f"--widths must be positive; got {args.widths}.")
    key = jax.random.key(args.seed)

    x = jnp.linspace(-1.0, 1.0, args.n_train)[:, None]  # (n, 1), the compact set K = [-1, 1]
    y = target(x)
    x_eval = jnp.linspace(-1.0, 1.0, args.grid_factor * (args.n_train - 1) + 1)[:, None]
    y_eval = target(x_eval)
    model = funcnn.mlp([1, widths[-1], 1], args.activation)
    optimizer = make_optimizer("adam", make_schedule("cosine", args.lr, total_steps=args.steps))
    train = make_train(model, optimizer, x, y, x_eval, y_eval, args.steps)

    # Every (width, restart) pair: restart r uses the same key for every width.
    w_grid = jnp.repeat(jnp.array(widths), args.restarts)
    k_grid = jnp.tile(jax.random.split(key, args.restarts), len(widths))
    with Timer() as t:
        sup, rms, losses, fits = jax.jit(jax.vmap(train))(k_grid, w_grid)
        sup = np.asarray(sup).reshape(len(widths), args.restarts)
    rms = np.asarray(rms).reshape(len(widths), args.restarts)
    losses = np.asarray(losses).reshape(len(widths), args.restarts, -1)
    fits = np.asarray(fits).reshape(len(widths), args.restarts, -1)
    best = np.argmin(sup, axis=1)  # the best restart of each width
    sup_best = sup[np.arange(len(widths)), best]
    rms_best = rms[np.arange(len(widths)), best]

    ratio = float(sup_best[-1] / sup_best[0])
    slope = float(np.polyfit(np.log(widths), np.log(sup_best), 1)[0])
    held = ratio < FRACTION and slope < 0

    plots = [
        plot_errors(widths, sup, sup_best, rms_best, args),
        plot_fits(widths, fits[np.arange(len(widths)), best], np.asarray(x_eval[:, 0]), args),
    ]
    headline = (
        "sup error by width: "
        + ", ".join(f"{w}: {e:.3f}" for w, e in zip(widths, sup_best))
        + f"; largest/smallest = {ratio:.3f}; log-log slope {slope:.2f}"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "widths": widths,
            "sup_error_best": sup_best,
            "rms_error_best": rms_best,
            "sup_error_all_restarts": sup,
            "final_train_loss_best": losses[np.arange(len(widths)), best, -1],
            "ratio_largest_to_smallest": ratio,
            "log_log_slope": slope,
            "eval_points": int(x_eval.shape[0]),
        },
        plots=plots,
        wall_time_s=t.seconds,
    )


def plot_errors(widths, sup, sup_best, rms_best, args) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    for r in range(sup.shape[1]):
        ax.loglog(widths, sup[:, r], "o", color="gray", alpha=0.4, ms=4,
                  label="sup error, each restart" if r == 0 else None)  # fmt: skip
    ax.loglog(widths, sup_best, "o-", label="sup error, best restart")
    ax.loglog(widths, rms_best, "s--", label="RMS error, same network")
    ax.set(
        xlabel="hidden width n",
        ylabel="error on the dense grid (log scale)",
        title=f"One hidden {args.activation} layer on [-1, 1]: error against width",
    )
    ax.legend()
    return save_figure(fig, args.out / "error_vs_width.png")


def plot_fits(widths, fits, x_eval, args) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), layout="constrained")
    f = np.asarray(target(x_eval))
    axes[0].plot(x_eval, f, "k-", lw=3, alpha=0.35, label="f(x)")
    for w, f_n in zip(widths, fits):
        axes[0].plot(x_eval, f_n, lw=1.2, label=f"width {w}")
        axes[1].semilogy(x_eval, np.maximum(np.abs(f_n - f), 1e-7), lw=1, label=f"width {w}")
    axes[0].set(xlabel="x", ylabel="f(x), f_n(x)", title="Fitted networks (best restart per width)")
    axes[0].legend(fontsize=8, ncol=2)
    axes[1].set(
        xlabel="x",
        ylabel="|f_n(x) - f(x)| (log scale)",
        title="Pointwise error on the dense grid (its maximum is the sup error)",
    )
    axes[1].legend(fontsize=8, ncol=2)
    return save_figure(fig, args.out / "fits.png")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
