"""Stochastic vs batch optimization: loss against epochs and against wall time.

Claim (the lecture, "Stochastic vs Batch Optimization"; the blog's case for SGD), on MNIST-1D
softmax regression (4,000 training sequences, 40 -> 10, cross-entropy, hand-written gradients):
each of single-sample SGD (B = 1), minibatch SGD (B = 100) and full-batch gradient descent
(B = 4,000) runs with its own best learning rate from ``--lrs``, then

1. after one epoch (one pass over the data) the training loss of single-sample SGD and of
   minibatch SGD are both below full batch's, even when full batch's single update takes the
   best possible step (a line search over 81 step sizes from 0.01 to 100);
2. minibatch SGD gets within 5% of the lowest loss any regime reaches in less than half the
   epochs (passes over the data, i.e. gradient evaluations per example) full batch needs.

Why epochs and not wall time, as this claim first said ("in less than half of full batch's
wall time", later loosened to "in less wall time" without a measurement): measured in full
mode (seed 0, 2 CPU cores shared with other jobs, compiled loops, median of 11 timings),
minibatch reaches the target after 12 epochs and full batch after 44 (ratio 0.27), but an
epoch of 40 sequential minibatch updates costs 4.8 ms against 1.3 ms for one full-batch
update (3.7x), so the wall times are 58.1 ms against 58.2 ms (ratio 0.999): a tie that the
hardware decides (an accelerator, or more cores, make the big full-batch matmul relatively
cheaper still), where neither threshold would be a claim about optimization. In quick mode
(fewer epochs, so a higher, easier target) the same run measured 4 against 37 epochs and
7 ms against 36 ms (ratio 0.19): the wall-time margin depends on where the target sits. The wall-time
ratio is still measured and reported (``time_ratio_minibatch_over_full_batch``), not claimed.

Measured alongside: which stochastic regime is lower after one epoch (single-sample SGD, by
about 1-2% in the draws we ran, with the coarse learning-rate grid deciding such margins);
single-sample SGD is the slowest per second here (4,000 sequential tiny updates per epoch);
and with a constant learning rate both stochastic regimes level off at a noise floor that full
batch, given enough updates, goes below.

Usage::

    python -m experiments.sgd_vs_batch [--quick] [--seed 0] [--out results/sgd_vs_batch]
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.backprop import softmax_regression_grads
from funcnn.data import load
from funcnn.train import init_state, make_eval_fn, make_optimizer, make_step_fn

NAME = "sgd_vs_batch"
CLAIM = (
    "after 1 epoch: SGD (B=1) and minibatch (B=100) both below full batch with its best step; "
    "minibatch gets within 5% of the lowest loss in < 1/2 of full batch's epochs (wall time "
    "reported, not claimed)"
)
LOSS = "softmax_cross_entropy"


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--minibatch", type=int, default=100, help="the minibatch size (MNIST-1D: 100)")
    p.add_argument("--epochs-sgd", type=int, default=5, help="epochs of single-sample SGD")
    p.add_argument("--epochs-minibatch", type=int, default=100, help="epochs of minibatch SGD")
    p.add_argument("--epochs-full", type=int, default=1000, help="epochs (= updates) of full batch")
    p.add_argument(
        "--lrs",
        type=float,
        nargs="+",
        default=[0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        help="learning-rate grid; each regime uses its best",
    )
    p.add_argument("--repeats", type=int, default=11, help="timings per regime (median)")
    return p


def make_run(model, x, y, batch_size: int, n_epochs: int):
    """``run(key, lr, orders) -> params after each epoch`` (compiled; ``lr`` traced).

    B < n: epoch ``e`` visits the examples in the order ``orders[e]``, cut into ``n // B``
    batches; B = n: one full-batch update per epoch (``orders`` unused). The step is
    ``funcnn.train``'s plain SGD step with the hand-written gradient.

    Returns:
        params stacked over ``n_epochs + 1`` (the initial ones, then after epoch 1, 2, ...).
    """
    n = x.shape[0]

    def run(key, lr, orders):
        opt = make_optimizer("sgd", lr)
        step = make_step_fn(model, LOSS, opt, grad="manual")
        state = init_state(model, opt, key)
        if batch_size == n:

            def epoch(s, _):
                s, _ = step(s, (x, y))
                return s, s.params

            params = jax.lax.scan(epoch, state, None, length=n_epochs)[1]
        else:
            per_epoch = n // batch_size

            def epoch(s, order):
                idx = order[: per_epoch * batch_size].reshape(per_epoch, batch_size)
                s, _ = jax.lax.scan(step, s, (x[idx], y[idx]))  # (n // B, B, ...) batches
                return s, s.params

            params = jax.lax.scan(epoch, state, orders)[1]
        return jax.tree.map(lambda p0, p: jnp.concatenate([p0[None], p]), state.params, params)

    return jax.jit(run)


def best_single_step(model, params, x, y, steps):
    """The loss at ``params`` and after one full-batch gradient step ``params - eta grad`` for
    every ``eta`` in ``steps`` (the gradient by ``funcnn.backprop.softmax_regression_grads``):
    ``(loss, (len(steps),))``."""
    evaluate = make_eval_fn(model, LOSS)

    @jax.jit
    def after_step(params, etas):
        g = softmax_regression_grads(params, x, y)  # dL/dW = X^T (softmax(O) - Y) / n, dL/db

        def one(eta):
            p = jax.tree.map(lambda w, d: w - eta * d, params, g)
            return evaluate(p, x, y)["loss"]

        return evaluate(params, x, y)["loss"], jax.vmap(one)(etas)

    loss0, losses = after_step(params, jnp.asarray(steps, x.dtype))
    return float(loss0), np.asarray(losses)


def epoch_orders(key, n: int, n_epochs: int):
    """``(n_epochs, n)``: a fresh uniformly random permutation of the examples for every epoch
    (the ranks of i.i.d. uniform numbers)."""
    return jax.jit(lambda k: jnp.argsort(jax.random.uniform(k, (n_epochs, n)), axis=1))(key)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.epochs_sgd = min(args.epochs_sgd, 2)
        args.epochs_minibatch = min(args.epochs_minibatch, 30)
        args.epochs_full = min(args.epochs_full, 150)
        args.repeats = min(args.repeats, 5)
    key = jax.random.key(args.seed)
    k_init, k_shuffle = jax.random.split(key)
    with Timer() as t:
        ds = load("mnist1d")
        x, y = jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)
        n = x.shape[0]
        model = funcnn.softmax_regression(x.shape[1], ds.n_classes)
        evaluate = make_eval_fn(model, LOSS)
        losses_of = jax.jit(jax.vmap(lambda p: evaluate(p, x, y)["loss"]))
        regimes = {1: args.epochs_sgd, args.minibatch: args.epochs_minibatch, n: args.epochs_full}
        orders = epoch_orders(k_shuffle, n, max(args.epochs_sgd, args.epochs_minibatch))

        runs, curves, best_lr, best_lr_epoch1, epoch1 = {}, {}, {}, {}, {}
        for b, epochs in regimes.items():
            runs[b] = (make_run(model, x, y, b, epochs), orders[:epochs])
            trajectories = [runs[b][0](k_init, lr, runs[b][1]) for lr in args.lrs]
            grid = np.array([losses_of(p) for p in trajectories])  # (lrs, epochs + 1)
            grid = np.where(np.isfinite(grid), grid, np.inf)  # diverged = inf
            i_end, i_one = int(np.argmin(grid[:, -1])), int(np.argmin(grid[:, 1]))
            best_lr[b], best_lr_epoch1[b] = args.lrs[i_end], args.lrs[i_one]
            curves[b], epoch1[b] = grid[i_end], float(grid[i_one, 1])
        params0 = jax.tree.map(lambda p: p[0], trajectories[0])  # every run's init
        line = np.logspace(-2, 2, 81)
        loss0, line_losses = best_single_step(model, params0, x, y, line)

        # time each regime at its best learning rate, interleaved
        compiled = {b: runs[b][0].lower(k_init, best_lr[b], runs[b][1]).compile() for b in regimes}
        for b in regimes:
            jax.block_until_ready(compiled[b](k_init, best_lr[b], runs[b][1]))
        times = {b: [] for b in regimes}
        for _ in range(args.repeats):
            for b in regimes:
                start = time.perf_counter()
                jax.block_until_ready(compiled[b](k_init, best_lr[b], runs[b][1]))
                times[b].append(time.perf_counter() - start)
        per_epoch_s = {b: float(np.median(times[b])) / regimes[b] for b in regimes}

    mb = args.minibatch
    gd_line = float(np.nanmin(line_losses))  # full batch's best single update
    target = 1.05 * min(float(c.min()) for c in curves.values())
    time_to_target, epochs_to_target = {}, {}
    for b in regimes:
        hits = np.flatnonzero(curves[b] <= target)  # index = epochs done
        epochs_to_target[b] = int(hits[0]) if hits.size else None
        time_to_target[b] = float(hits[0] * per_epoch_s[b]) if hits.size else float("inf")
    epoch_order = max(epoch1[1], epoch1[mb]) < min(epoch1[n], gd_line)
    full_epochs = epochs_to_target[n] if epochs_to_target[n] is not None else np.inf
    faster = epochs_to_target[mb] is not None and epochs_to_target[mb] < 0.5 * full_epochs
    held = bool(epoch_order and faster)

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    names = {1: "SGD (B=1)", mb: f"minibatch (B={mb})", n: f"full batch (B={n})"}
    for b, epochs in regimes.items():
        e, c = np.arange(0, epochs + 1), curves[b]
        label = f"{names[b]}, lr={best_lr[b]:g}"
        axes[0].plot(e, c, label=label)
        axes[1].plot(e * per_epoch_s[b], c, label=label)
    for ax in axes:
        ax.axhline(target, color="k", ls=":", lw=0.8, label=f"5% above the lowest: {target:.3f}")
        ax.set_xscale("symlog", linthresh=1 if ax is axes[0] else 1e-3)
        ax.set_xlim(left=0)
        ax.set_ylabel("training cross-entropy")
        ax.legend(fontsize=8)
    axes[0].set(xlabel="epoch (passes over the 4,000 examples)", title="Loss against epochs")
    axes[1].set(xlabel="wall time of the compiled loop (s)", title="Loss against wall time")
    fig.suptitle(
        "Softmax regression on MNIST-1D, each regime at its best learning rate (lowest final loss)"
    )
    fig.tight_layout()
    plots = [save_figure(fig, args.out / "sgd_vs_batch.png")]

    headline = (
        f"after 1 epoch: {epoch1[1]:.3f} / {epoch1[mb]:.3f} / {gd_line:.3f} (B=1/{mb}/{n}, "
        f"full batch line-searched); epochs to {target:.3f}: minibatch {epochs_to_target[mb]}, "
        f"full batch {epochs_to_target[n]}; wall time {time_to_target[mb] * 1e3:.0f} ms vs "
        f"{time_to_target[n] * 1e3:.0f} ms"
    )
    by_b = lambda d: {str(b): v for b, v in d.items()}  # noqa: E731
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "n_train": n,
            "initial_loss": loss0,
            "epochs": by_b(regimes),
            "best_lr": by_b(best_lr),
            "best_lr_after_one_epoch": by_b(best_lr_epoch1),
            "loss_after_one_epoch": by_b(epoch1),
            "final_loss": by_b({b: float(curves[b][-1]) for b in regimes}),
            "loss_per_epoch_from_0": by_b({b: curves[b] for b in regimes}),
            "seconds_per_epoch": by_b(per_epoch_s),
            "full_batch_best_single_step_loss": gd_line,
            "full_batch_best_single_step": float(line[np.nanargmin(line_losses)]),
            "target_loss": target,
            "seconds_to_target": by_b(time_to_target),
            "epochs_to_target": by_b(epochs_to_target),
            "time_ratio_minibatch_over_full_batch": time_to_target[mb] / time_to_target[n],
        },
        plots=plots,
        wall_time_s=t.seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
