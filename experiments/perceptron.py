"""The perceptron rule converges on separable data; it cannot fit XOR; a 2-layer MLP can.

Claim (the math paper, section 1; the lecture; the blog): on linearly separable data the
perceptron learning rule w <- w + (y - y_hat) x makes finitely many updates and then
classifies every training point correctly (a full pass with zero mistakes, within
``--max-epochs``); on XOR no perceptron gets more than 3 of the 4 points right, while a
2-layer MLP trained by gradient descent classifies all 4.

Usage::

    python -m experiments.perceptron [--quick] [--seed 0] [--out results/perceptron]
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure

NAME = "perceptron"
CLAIM = (
    "perceptron rule reaches zero mistakes on separable data in finitely many updates; "
    "<= 3/4 on XOR; a 2-layer MLP gets 4/4 on XOR"
)


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--n", type=int, default=200, help="separable points")
    p.add_argument("--margin", type=float, default=0.1, help="gap around the separating line")
    p.add_argument("--max-epochs", type=int, default=200, help="passes of the perceptron rule")
    p.add_argument("--hidden", type=int, default=8, help="hidden width of the XOR MLP")
    p.add_argument("--mlp-steps", type=int, default=500, help="Adam steps for the XOR MLP")
    return p


def separable_points(key, n: int, margin: float):
    """Points in [-1, 1]^2 labelled by a random line, keeping only those >= margin from it."""
    kw, kx = jax.random.split(key)
    normal = jax.random.normal(kw, (2,))
    normal = normal / jnp.linalg.norm(normal)
    x = jax.random.uniform(kx, (4 * n, 2), minval=-1.0, maxval=1.0)
    dist = x @ normal
    keep = np.flatnonzero(np.abs(np.asarray(dist)) >= margin)[:n]
    x = x[keep]
    return x, (x @ normal > 0).astype(jnp.float32)


def run_perceptron(x, y, max_epochs: int):
    """Perceptron passes until a pass makes no mistake; returns params and mistakes per pass."""
    params = funcnn.perceptron(x.shape[1]).init(jax.random.key(0))
    epoch = jax.jit(funcnn.perceptron_epoch)
    mistakes = []
    for _ in range(max_epochs):
        params, m = epoch(params, x, y)
        mistakes.append(int(m))
        if mistakes[-1] == 0:
            break
    return params, mistakes


def fit_xor_mlp(key, hidden: int, steps: int):
    x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = jnp.array([[0.0], [1.0], [1.0], [0.0]])
    net = funcnn.mlp([2, hidden, 1], "tanh")
    params = net.init(key)
    opt = optax.adam(0.05)

    def loss_fn(p):
        return funcnn.binary_cross_entropy(net.apply(p, x), y)

    @jax.jit
    def train(params):
        def step(carry, _):
            p, s = carry
            loss, g = jax.value_and_grad(loss_fn)(p)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), loss

        (params, _), losses = jax.lax.scan(step, (params, opt.init(params)), None, length=steps)
        return params, losses

    params, losses = train(params)
    pred = (net.apply(params, x) > 0).astype(jnp.float32)
    return int(jnp.sum(pred == y)), np.asarray(losses)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.n, args.mlp_steps = min(args.n, 100), min(args.mlp_steps, 300)
    key = jax.random.key(args.seed)
    k_data, k_mlp = jax.random.split(key)
    with Timer() as t:
        x, y = separable_points(k_data, args.n, args.margin)
        params, mistakes = run_perceptron(x, y, args.max_epochs)
        sep_acc = float(jnp.mean(funcnn.perceptron(2).apply(params, x)[:, 0] == y))
        updates = int(sum(mistakes))  # each mistake is one update of the rule
        xor_x = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        xor_y = jnp.array([0.0, 1.0, 1.0, 0.0])
        # No line separates XOR: the rule never completes a clean pass, and no perceptron gets
        # more than 3 of the 4 points right.
        xor_params, xor_mistakes = run_perceptron(xor_x, xor_y, args.max_epochs)
        xor_correct = int(jnp.sum(funcnn.perceptron(2).apply(xor_params, xor_x)[:, 0] == xor_y))
        mlp_correct, mlp_losses = fit_xor_mlp(k_mlp, args.hidden, args.mlp_steps)

    converged = mistakes[-1] == 0
    held = (
        converged
        and sep_acc == 1.0
        and xor_correct <= 3
        and min(xor_mistakes) > 0
        and mlp_correct == 4
    )
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(range(1, len(mistakes) + 1), mistakes, marker="o")
    axes[0].set(
        xlabel="pass over the data",
        ylabel="mistakes (= updates) in the pass",
        title="Perceptron on separable data",
    )
    xs = np.asarray(x)
    axes[1].scatter(xs[:, 0], xs[:, 1], c=np.asarray(y), cmap="coolwarm", s=12)
    w, b = np.asarray(params[0]["w"][:, 0]), float(params[0]["b"][0])
    grid = np.linspace(-1, 1, 2)
    if abs(w[1]) > 1e-12:
        axes[1].plot(grid, -(w[0] * grid + b) / w[1], "k-", label="learned boundary")
        axes[1].legend(loc="lower left")
    axes[1].set(
        xlim=(-1, 1), ylim=(-1, 1), xlabel="x1", ylabel="x2", title="Learned separating line"
    )
    axes[2].plot(xor_mistakes, label="perceptron: mistakes per pass")
    axes[2].plot(
        np.linspace(0, len(xor_mistakes), len(mlp_losses)),
        mlp_losses,
        label="2-layer MLP: BCE loss",
    )
    axes[2].set(
        xlabel="pass (perceptron) / scaled step (MLP)", ylabel="mistakes / loss", title="XOR"
    )
    axes[2].legend()
    plots = [save_figure(fig, args.out / "perceptron.png")]
    headline = (
        f"separable: {updates} updates, clean pass after {len(mistakes)} passes (acc {sep_acc:.2f}); "
        f"XOR: perceptron {xor_correct}/4, MLP {mlp_correct}/4"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "separable_passes": len(mistakes),
            "separable_updates": updates,
            "separable_accuracy": sep_acc,
            "mistakes_per_pass": mistakes,
            "xor_perceptron_correct": xor_correct,
            "xor_perceptron_min_mistakes_per_pass": min(xor_mistakes),
            "xor_mlp_correct": mlp_correct,
        },
        plots=plots,
        wall_time_s=t.seconds,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
