"""The blog's logistic neuron trained by single-sample SGD, minibatch SGD and full-batch GD.

Claim (the blog, "The Single Neuron Model": ``y_hat = sigma(w^T x + b)``, squared loss
``1/2 (y - y_hat)^2``, trained with its hand-written gradient ``(y_hat - y) y_hat (1 - y_hat) x``,
here ``funcnn.backprop`` through ``funcnn.train``'s step), on scikit-learn's breast-cancer set
(455 training examples, 30 standardized features), all three with the same learning rate and
the same number of updates (``--epochs`` passes of single-sample SGD):

1. per update, full-batch gradient descent is the smooth one: its full-data loss never
   increases, minibatch SGD increases it on some updates and single-sample SGD on at least 10%
   of them; and late in training (second half of the updates) single-sample SGD's noise keeps
   its mean loss above full batch's. Which of the two stochastic regimes increases the loss
   more often is measured, not claimed: in full mode (seeds 0-4) single-sample SGD on 20-24%
   of the updates and minibatch SGD on 17-30%, the minibatch's more often on 3 of the 5 (this
   claim first said "minibatch's < SGD's", which full mode failed on seeds 1-3);
2. per epoch (pass over the data), single-sample SGD is ahead: after one epoch its loss is below
   the minibatch's, which is below full batch's;
3. per epoch, again: single-sample SGD reaches the target loss (1.1x the worst final loss of
   the three) in fewer than 1/100 of the epochs full-batch GD needs.

Why epochs and not wall time, as this claim first said ("SGD reaches the target loss in less
wall time than full batch"): measured in full mode (20 epochs, seeds 0-4, 2 CPU cores shared
with other jobs), single-sample SGD reaches the target in 0.15x to 0.26x of full batch's wall
time, but in 0.86x to 1.26x of its *updates* (e.g. seed 3: 1,083 against 859): SGD's lead in
wall time is all in the cost of one update (3 to 7 us for one example against 13 to 42 us for
456 on this CPU), which the hardware decides (on an accelerator both are a kernel launch), not
the optimization. Per epoch SGD needs 2.4 to 12 against 859 to 5,300 (ratio 0.0019 to 0.0028,
so 1/100 holds with a 3.5x margin); quick mode (5 epochs, a higher target), seeds 0-2: 2.1 to
2.8 against 1,077 to 1,276 (0.0020 to 0.0022). The wall time to the target (the compiled
training loop, compilation excluded, median of ``--repeats`` timings, regimes interleaved) is
still measured and reported (``seconds_to_target``), not claimed.

Not claimed, but measured: whether full batch is also *ahead* per update depends on the draw.
Early on, when ``y_hat ~ 1/2`` for every example, the examples' gradients largely cancel in the
average while a single example's gradient already points along the direction separating the
classes, so in some runs single-sample SGD is below full batch for the first updates; the JSON
records the fraction of updates at which it is. The time axis of the third plot is the update
index times the median time per update of the compiled loop.

Usage::

    python -m experiments.single_neuron [--quick] [--seed 0] [--out results/single_neuron]
"""

from __future__ import annotations

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.data import load
from funcnn.train import init_state, make_eval_fn, make_optimizer, make_step_fn

NAME = "single_neuron"
CLAIM = (
    "loss increases on 0 full-batch updates, some minibatch ones, >= 10% of SGD's; SGD higher late; "
    "per epoch SGD < minibatch < full batch after 1 epoch; SGD reaches the target loss in "
    "< 1/100 of full batch's epochs (wall time reported, not claimed)"
)
EPOCH_RATIO_MAX = 0.01  # SGD's epochs to the target / full batch's (module docstring)


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--lr", type=float, default=0.5, help="learning rate of all three")
    p.add_argument("--batch-size", type=int, default=32, help="the minibatch size")
    p.add_argument(
        "--epochs", type=int, default=20, help="passes of single-sample SGD (sets the updates)"
    )
    p.add_argument("--repeats", type=int, default=21, help="timings per regime (median)")
    return p


def make_run(model, opt, x, y, n_updates: int):
    """``run(key, B, orders) -> params after each update`` (compiled; B static, 1 <= B <= n).

    B < n: epoch ``e`` visits the examples in the order ``orders[e]`` (a permutation of
    ``range(n)``), cut into ``n // B`` batches (the remainder dropped, as
    ``funcnn.data.epoch_batches`` does), for ``ceil(n_updates / (n // B))`` epochs cut at
    ``n_updates`` updates. B = n: the full batch every update (``orders`` unused). The orders
    are drawn before the loop (:func:`epoch_orders`), so the timed program is the training
    alone. The step is ``funcnn.train``'s with the hand-written gradient. The loop stores the
    parameters after every update (``d + 1`` numbers), from which :func:`make_losses`
    computes the curve, so the program that is timed is the one that is plotted.

    Returns:
        params stacked over ``n_updates + 1`` (the initial ones first).
    """
    n = x.shape[0]
    step = make_step_fn(model, "mse", opt, grad="manual")

    def one_step(state, batch):
        state, _ = step(state, batch)
        return state, state.params

    def run(key, batch_size, orders):
        state = init_state(model, opt, key)
        if batch_size == n:
            _, params = jax.lax.scan(
                lambda s, _: one_step(s, (x, y)), state, None, length=n_updates
            )
        else:
            per_epoch = n // batch_size

            def epoch(state, order):
                idx = order[: per_epoch * batch_size].reshape(per_epoch, batch_size)
                return jax.lax.scan(one_step, state, (x[idx], y[idx]))  # (n // B, B, ...)

            _, params = jax.lax.scan(epoch, state, orders)
            params = jax.tree.map(lambda p: p.reshape(-1, *p.shape[2:])[:n_updates], params)
        return jax.tree.map(lambda p0, p: jnp.concatenate([p0[None], p]), state.params, params)

    return jax.jit(run, static_argnums=1)


def epoch_orders(key, n: int, n_epochs: int):
    """``(n_epochs, n)``: a fresh random permutation of the examples for every epoch."""
    keys = jax.random.split(key, n_epochs)
    return jax.jit(jax.vmap(lambda k: jax.random.permutation(k, n)))(keys)


def make_losses(model, x, y):
    """``losses(stacked_params) -> (k,)``: the full-data loss of each parameter set."""
    evaluate = make_eval_fn(model, "mse")
    return jax.jit(jax.vmap(lambda p: evaluate(p, x, y)["loss"]))


def run_and_time(run, key, orders, n_updates: int, batch_sizes, repeats: int):
    """Each regime's params trajectory, and the median seconds of its compiled run (compile
    excluded via ``lower().compile()``, a warm-up call, regimes interleaved)."""
    n = orders.shape[1]
    args = {b: (key, orders[: -(-n_updates // (n // b))]) for b in batch_sizes}
    compiled = {b: run.lower(args[b][0], b, args[b][1]).compile() for b in batch_sizes}
    trajectories = {b: jax.block_until_ready(compiled[b](*args[b])) for b in batch_sizes}
    times = {b: [] for b in batch_sizes}
    for _ in range(repeats):
        for b in batch_sizes:
            start = time.perf_counter()
            jax.block_until_ready(compiled[b](*args[b]))
            times[b].append(time.perf_counter() - start)
    return trajectories, {b: float(np.median(t)) for b, t in times.items()}


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = min(args.epochs, 5), min(args.repeats, 7)
    key = jax.random.key(args.seed)
    k_split, k_run = jax.random.split(key)
    split_seed = int(jax.random.randint(k_split, (), 0, 2**31 - 1))
    with Timer() as t:
        ds = load("breast_cancer", seed=split_seed)  # standardized with training statistics
        x = jnp.asarray(ds.x_train)
        y = jnp.asarray(ds.y_train, jnp.float32)[:, None]  # (n, 1) in {0, 1}
        n = x.shape[0]
        batch_sizes = [1, args.batch_size, n]
        n_updates = args.epochs * n  # every regime: as many updates as `epochs` SGD passes
        model = funcnn.single_neuron(x.shape[1])  # sigma(w^T x + b), w ~ N(0, 0.01^2)
        opt = make_optimizer("sgd", args.lr)
        run = make_run(model, opt, x, y, n_updates)
        k_init, k_shuffle = jax.random.split(k_run)  # the same init for every regime
        orders = epoch_orders(k_shuffle, n, -(-n_updates // (n // max(batch_sizes[:2]))))
        trajectories, seconds = run_and_time(
            run, k_init, orders, n_updates, batch_sizes, args.repeats
        )
        losses_of = make_losses(model, x, y)
        curves = {b: np.asarray(losses_of(p)) for b, p in trajectories.items()}  # (n_updates + 1,)

    names = {
        1: "SGD (B=1)",
        args.batch_size: f"minibatch (B={args.batch_size})",
        n: f"full batch (B={n})",
    }
    loss0 = float(curves[1][0])  # the same init for every regime
    losses = {b: c[1:] for b, c in curves.items()}  # after update 1, 2, ..., n_updates
    increases = {b: float(np.mean(np.diff(curves[b]) > 0)) for b in batch_sizes}
    half = n_updates // 2
    late_mean = {b: float(losses[b][half:].mean()) for b in batch_sizes}
    after_one_epoch = {b: float(losses[b][n // b - 1]) for b in batch_sizes}
    target = 1.1 * max(float(losses[b][-1]) for b in batch_sizes)
    updates_timed = {
        b: n_updates if b == n else -(-n_updates // (n // b)) * (n // b) for b in batch_sizes
    }
    per_update_s = {b: seconds[b] / updates_timed[b] for b in batch_sizes}
    time_to_target, updates_to_target, epochs_to_target = {}, {}, {}
    for b in batch_sizes:
        hit = np.flatnonzero(losses[b] <= target)
        updates_to_target[b] = int(hit[0] + 1) if hit.size else None
        epochs_to_target[b] = updates_to_target[b] / (n // b) if hit.size else float("inf")
        time_to_target[b] = float((hit[0] + 1) * per_update_s[b]) if hit.size else float("inf")
    epoch_ratio = epochs_to_target[1] / epochs_to_target[n]
    mb = args.batch_size
    smooth = increases[n] == 0.0 < increases[mb] and increases[1] >= 0.1
    noisy_late = late_mean[1] > late_mean[n]
    epoch_order = after_one_epoch[1] < after_one_epoch[mb] < after_one_epoch[n]
    faster = epoch_ratio < EPOCH_RATIO_MAX
    held = bool(smooth and noisy_late and epoch_order and faster)

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    colors = {1: "tab:blue", mb: "tab:orange", n: "tab:green"}
    k = np.arange(1, n_updates + 1)
    for b in batch_sizes:
        axes[0].loglog(k, losses[b], color=colors[b], lw=0.8, label=names[b])
        axes[1].loglog(k / (n // b), losses[b], color=colors[b], lw=0.8, label=names[b])
        axes[2].loglog(k * per_update_s[b], losses[b], color=colors[b], lw=0.8, label=names[b])
    for ax in axes:
        ax.axhline(target, color="k", ls=":", lw=0.8, label=f"target {target:.3g}")
        ax.set_ylabel("full-data loss (1/n) sum 1/2 (y - y_hat)^2")
        ax.legend(fontsize=8)
    axes[0].set(xlabel="update", title=f"Per update (eta={args.lr})")
    axes[1].set(xlabel="epoch (passes over the data)", title="Per epoch")
    axes[2].set(xlabel="wall time of the compiled loop (s)", title="Per second (compile excluded)")
    fig.suptitle(f"Logistic neuron with squared loss on breast cancer (n={n}, d={x.shape[1]})")
    fig.tight_layout()
    plots = [save_figure(fig, args.out / "single_neuron.png")]

    headline = (
        f"loss increases in {increases[1]:.0%} / {increases[mb]:.0%} / {increases[n]:.0%} of "
        f"updates (B=1/{mb}/{n}); after 1 epoch {after_one_epoch[1]:.4f} / "
        f"{after_one_epoch[mb]:.4f} / {after_one_epoch[n]:.4f}; epochs to {target:.4f}: "
        f"{epochs_to_target[1]:.3g} / {epochs_to_target[mb]:.3g} / {epochs_to_target[n]:.4g} "
        f"(SGD/full {epoch_ratio:.2g}); wall time {time_to_target[1] * 1e3:.1f} / "
        f"{time_to_target[mb] * 1e3:.1f} / {time_to_target[n] * 1e3:.1f} ms"
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
            "n_updates": n_updates,
            "batch_sizes": batch_sizes,
            "initial_loss": loss0,
            "final_loss": by_b({b: float(losses[b][-1]) for b in batch_sizes}),
            "fraction_of_updates_increasing_loss": by_b(increases),
            "mean_loss_second_half": by_b(late_mean),
            "loss_after_one_epoch": by_b(after_one_epoch),
            "loss_after_10_updates": by_b({b: float(losses[b][9]) for b in batch_sizes}),
            "fraction_of_updates_sgd_below_full_batch": float(np.mean(losses[1] < losses[n])),
            "target_loss": target,
            "seconds_per_update": by_b(per_update_s),
            "updates_to_target": by_b(updates_to_target),
            "epochs_to_target": by_b(epochs_to_target),
            "epoch_ratio_sgd_over_full_batch": epoch_ratio,
            "seconds_to_target": by_b(time_to_target),
            "time_ratio_sgd_over_full_batch": time_to_target[1] / time_to_target[n],
            "seconds_training": by_b(seconds),
        },
        plots=plots,
        config={"split_seed": split_seed},
        wall_time_s=t.seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
