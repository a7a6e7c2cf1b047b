"""Attention pooling: Nadaraya-Watson beats average pooling; a learned bandwidth beats both.

Claim (the digest, section 11, attention pooling f(q) = sum_i alpha(q, k_i) v_i): on the
digest's regression set y = 2 sin(x) + x^0.8 + eps (50 noisy training points, keys x_i and
values y_i; 50 test queries 0, 0.1, ..., 4.9 compared with the noise-free curve), the
Gaussian-kernel Nadaraya-Watson pooling alpha = softmax_i(-(q - k_i)^2 / 2) has a test mean
squared error below that of average pooling (alpha = 1/m), and the parametric form
softmax_i(-((q - k_i) w)^2 / 2) with its bandwidth w trained by gradient descent has a test
error no larger than Nadaraya-Watson's.

The bandwidth is trained as in the digest's source, with leave-one-out keys: training query
x_i attends to the 49 other training points, so the kernel cannot simply return y_i (which a
vanishing bandwidth would). The loss is the mean of (f(x_i) - y_i)^2 / 2; its gradient in w is
the hand-written one of ``funcnn.backprop.parametric_nw_backward`` (checked against
``jax.grad`` on the same loss), applied by funcnn.train's SGD, full batch, in one ``lax.scan``.

Usage::

    python -m experiments.attention_pooling [--quick] [--seed 0] [--out results/attention_pooling]
"""

from __future__ import annotations

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.backprop import (
    loss_backward,
    loss_forward,
    parametric_nw_backward,
    parametric_nw_forward,
)
from funcnn.data import make_attention
from funcnn.train import make_optimizer

NAME = "attention_pooling"
CLAIM = (
    "test MSE on y = 2 sin x + x^0.8: Nadaraya-Watson < average pooling, and the trained "
    "parametric bandwidth <= Nadaraya-Watson"
)
METHODS = ("average pooling", "Nadaraya-Watson", "parametric (trained w)")
GRAD_RTOL = 1e-4  # manual vs jax.grad of the leave-one-out loss in w (float32)


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--n-train", type=int, default=50, help="training points (keys and values)")
    p.add_argument("--noise", type=float, default=0.5, help="standard deviation of eps")
    p.add_argument("--lr", type=float, default=2.0, help="SGD learning rate for w")
    p.add_argument("--steps", type=int, default=200, help="full-batch gradient steps")
    return p


def leave_one_out(x, y):
    """Keys and values for each training query without its own point: ``(n, n - 1)`` each."""
    n = x.shape[0]
    others = np.array([[j for j in range(n) if j != i] for i in range(n)])  # (n, n - 1)
    return x[others], y[others]


def loo_value_and_grad(params, x, y, keys, values):
    """Leave-one-out loss (1/n) sum_i (f(x_i) - y_i)^2 / 2 and its hand-written gradient.

    Each training query ``x_i`` is its own pooling over its ``n - 1`` keys (``jax.vmap`` over
    the queries); the bandwidth is shared, so its gradient is the sum over the queries.
    """
    forward = jax.vmap(parametric_nw_forward, in_axes=(None, 0, 0, 0))
    f, cache = forward(params, x[:, None], keys, values)  # f: (n, 1), one query per row
    value, loss_cache = loss_forward("mse", f, y[:, None])
    dout, _ = loss_backward("mse", loss_cache)  # (n, 1): (f_i - y_i) / n
    backward = jax.vmap(parametric_nw_backward, in_axes=(None, 0, 0))
    grads, _, _, _ = backward(params, cache, dout)  # {"w": (n,)}, one term per query
    return value, {"w": jnp.sum(grads["w"])}


def loo_loss_autodiff(params, x, y, keys, values):
    """The same loss through ``funcnn.parametric_nw_apply``, for ``jax.grad``."""
    f = jax.vmap(lambda q, k, v: funcnn.parametric_nw_apply(params, q[None], k, v))(x, keys, values)
    return funcnn.mse(f, y[:, None])


def train_bandwidth(params, x, y, keys, values, lr: float, steps: int):
    """Full-batch SGD on w; returns the trained params, the losses and the w trajectory."""
    optimizer = make_optimizer("sgd", lr)

    def step(carry, _):
        params, opt_state = carry
        loss, grads = loo_value_and_grad(params, x, y, keys, values)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        return (params, opt_state), (loss, params["w"])

    (params, _), (losses, ws) = jax.lax.scan(
        step, (params, optimizer.init(params)), None, length=steps
    )
    return params, losses, ws


@functools.partial(jax.jit, static_argnames=("lr", "steps"))
def run(params0, x, y, queries, *, lr: float, steps: int) -> dict:
    """Everything the study computes, as one compiled program."""
    avg, avg_weights = funcnn.average_pooling(queries, x, y, return_weights=True)
    nw, nw_weights = funcnn.nadaraya_watson(queries, x, y, return_weights=True)
    keys, values = leave_one_out(x, y)
    _, manual = loo_value_and_grad(params0, x, y, keys, values)
    auto = jax.grad(loo_loss_autodiff)(params0, x, y, keys, values)
    params, losses, ws = train_bandwidth(params0, x, y, keys, values, lr, steps)
    param, param_weights = funcnn.parametric_nw_apply(params, queries, x, y, return_weights=True)
    return {
        "curves": dict(zip(METHODS, (avg, nw, param))),
        "nw_weights": nw_weights,
        "param_weights": param_weights,
        "grad_manual": manual["w"],
        "grad_autodiff": auto["w"],
        "w": params["w"],
        "losses": losses,
        "ws": ws,
    }


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 100)
    key = jax.random.key(args.seed)
    k_data, k_w = jax.random.split(key)

    with Timer() as t:
        data = make_attention(k_data, n_train=args.n_train, noise=args.noise)
        x, y = jnp.asarray(data.x_train[:, 0]), jnp.asarray(data.y_train[:, 0])  # keys, values
        queries, truth = np.asarray(data.x_test[:, 0]), np.asarray(data.y_test[:, 0])
        params0 = funcnn.parametric_nw_init(k_w)
        out = jax.tree.map(np.asarray, run(params0, x, y, queries, lr=args.lr, steps=args.steps))
    curves, losses, ws = out["curves"], out["losses"], out["ws"]
    x, y = np.asarray(x), np.asarray(y)
    grad_rel_diff = float(
        abs(out["grad_manual"] - out["grad_autodiff"]) / abs(out["grad_autodiff"])
    )

    curves = {name: curves[name] for name in METHODS}  # (jax.tree.map sorted the keys)
    errors = {name: float(np.mean((pred - truth) ** 2)) for name, pred in curves.items()}
    w_final = float(out["w"])
    held = (
        errors[METHODS[1]] < errors[METHODS[0]]
        and errors[METHODS[2]] <= errors[METHODS[1]]
        and grad_rel_diff < GRAD_RTOL
        and bool(np.isfinite(losses).all())
    )
    plots = [
        plot_fits(x, y, queries, truth, curves, errors, w_final, args),
        plot_heatmaps(x, queries, out["nw_weights"], out["param_weights"], w_final, args),
        plot_training(losses, ws, args),
    ]
    headline = (
        f"test MSE: average {errors[METHODS[0]]:.3f}, Nadaraya-Watson {errors[METHODS[1]]:.3f}, "
        f"parametric {errors[METHODS[2]]:.3f} (w: {float(params0['w']):.2f} -> {w_final:.2f})"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "test_mse": errors,
            "w_init": float(params0["w"]),
            "w_trained": w_final,
            "loo_loss_first_last": [float(losses[0]), float(losses[-1])],
            "manual_vs_autodiff_grad_rel_diff": grad_rel_diff,
            "weights_row_sums_max_dev": float(np.max(np.abs(out["param_weights"].sum(axis=1) - 1))),
        },
        plots=plots,
        wall_time_s=t.seconds,
    )


def plot_fits(x, y, queries, truth, curves, errors, w, args) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(x, y, "o", color="gray", alpha=0.5, ms=4, label="training points (keys, values)")
    ax.plot(queries, truth, "k-", lw=2.5, alpha=0.4, label="truth 2 sin x + x^0.8")
    for (name, pred), style in zip(curves.items(), ("--", "-", "-")):
        label = f"{name}: test MSE {errors[name]:.3f}"
        if name.startswith("parametric"):
            label += f" (w = {w:.2f})"
        ax.plot(queries, pred, style, lw=1.6, label=label)
    ax.set(xlabel="x (query)", ylabel="y", title="Attention pooling on the digest's regression set")
    ax.legend(fontsize=8)
    return save_figure(fig, args.out / "fits.png")


def plot_heatmaps(x, queries, nw_weights, param_weights, w, args) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    extent = (float(x[0]), float(x[-1]), float(queries[-1]), float(queries[0]))
    for ax, weights, title in (
        (axes[0], nw_weights, "Nadaraya-Watson (w = 1)"),
        (axes[1], param_weights, f"parametric, trained w = {w:.2f}"),
    ):
        im = ax.imshow(np.asarray(weights), cmap="Reds", aspect="auto", extent=extent)
        ax.set(xlabel="key x_i (sorted training inputs)", ylabel="query x", title=title)
        fig.colorbar(im, ax=ax, label="attention weight alpha(q, k_i)")
    fig.suptitle("Attention weights: test queries against training keys")
    return save_figure(fig, args.out / "attention_weights.png")


def plot_training(losses, ws, args) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    axes[0].plot(np.asarray(losses))
    axes[0].set(xlabel="gradient step", ylabel="leave-one-out loss", title="Training the bandwidth")
    axes[1].plot(np.asarray(ws))
    axes[1].set(xlabel="gradient step", ylabel="w", title="Bandwidth parameter w")
    return save_figure(fig, args.out / "training.png")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
