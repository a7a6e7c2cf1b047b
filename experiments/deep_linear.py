"""Deep linear network: all layers at once (GD) and one layer at a time (BCD) are different
optimization methods; both fit, along different paths, to different factorizations.

Claim (the lecture: "BCD: optimize layer j while fixing the others ... suitable for deep linear
networks"; "update (u.1) of all weights simultaneously and (u.2) of each layer correspond to
non-equivalent optimization problems"): on a least-squares regression with a 4-layer linear
network, from the same initialization and with the same step size,

1. gradient descent on all layers at once (u.1: every gradient taken at the same point) and
   block-coordinate descent with one gradient step per layer, layers in turn (u.2: each
   gradient taken after the layers before it moved) both reduce the loss to within 1% of the
   least-squares optimum, measured as (L_k - L*) <= 0.01 (L_0 - L*);
2. their trajectories differ: along the way the end-to-end maps P = W_1 W_2 W_3 W_4 differ by
   more than 5% (max over sweeps of ||P_GD - P_BCD||_F / ||P_GD||_F > 0.05; one update of
   each differs at second order in the step size, and the differences accumulate);
3. they end at different minimizers of the same loss: the least-squares map is unique and
   both approach it, but the layers do not: at the end the largest relative difference of a
   layer's weights is more than 10 times that of the end-to-end maps. The factorization of P
   depends on the method.

Also measured (not part of the claim): exact block-coordinate descent, each block solved by
least squares (with the other layers fixed, the loss is a convex quadratic in W_j), reaches the
optimum with its first block.

The gradients are ``funcnn.backprop.value_and_grad(funcnn.deep_linear(sizes), "mse")``, the
lecture's delta recursion with identity activations; both methods run as one compiled
``lax.scan`` over sweeps (one sweep = one update of every layer).

Usage::

    python -m experiments.deep_linear [--quick] [--seed 0] [--out results/deep_linear]
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.backprop import value_and_grad

NAME = "deep_linear"
CLAIM = (
    "4-layer linear net, same init and step: GD (all layers) and layer-wise BCD both get within "
    "1% of the LS optimum; their end-to-end maps differ > 5% along the way; at the end some "
    "layer differs > 10x more than the maps do"
)
FIT_WITHIN = 0.01  # (L_k - L*) / (L_0 - L*)
TRAJECTORY_DIFF = 0.05  # max over sweeps of the end-to-end relative difference
LAYER_OVER_MAP = 10.0  # final max layer difference / final end-to-end difference


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[8, 8, 8, 8, 4], help="layer sizes n_0 ... n_L"
    )
    p.add_argument("--n", type=int, default=256, help="training examples")
    p.add_argument("--noise", type=float, default=0.01, help="noise standard deviation")
    p.add_argument("--lr", type=float, default=0.1, help="step size, the same for both methods")
    p.add_argument("--sweeps", type=int, default=1000, help="GD steps = BCD sweeps")
    return p


def make_data(key, n: int, d: int, k: int, noise: float):
    """y = x M + b + eps with x ~ N(0, I_d), M ~ N(0, 1/d), b = 1/2."""
    k_x, k_m, k_e = jax.random.split(key, 3)
    x = jax.random.normal(k_x, (n, d))
    m = jax.random.normal(k_m, (d, k)) / np.sqrt(d)
    return x, x @ m + 0.5 + noise * jax.random.normal(k_e, (n, k))


def end_to_end(params):
    """The network's affine map as ``(P (n_0, n_L), c (n_L,))``: ``f(x) = x @ P + c``."""
    p, c = params[0]["w"], params[0]["b"]
    for layer in params[1:]:
        p, c = p @ layer["w"], c @ layer["w"] + layer["b"]
    return p, c


def solve_block(params, j: int, x, y):
    """Layer j's least-squares optimum with the other layers fixed (exact BCD).

    With ``A = [z_{j-1}, 1]`` (the layer's input with a column of ones), ``B`` the product of
    the later layers' weights and ``c`` their biases' contribution, the output is
    ``A [w_j; b_j] B + c``: a linear function of layer j. The minimum-norm minimizer of
    ``||A W B - (y - c)||_F`` is ``W = A^+ (y - c) B^+``.
    """
    z = x
    for layer in params[:j]:
        z = z @ layer["w"] + layer["b"][None, :]
    a = jnp.concatenate([z, jnp.ones((z.shape[0], 1), z.dtype)], axis=1)
    n_j = params[j]["w"].shape[1]
    b, c = jnp.eye(n_j, dtype=x.dtype), jnp.zeros((n_j,), x.dtype)
    for layer in params[j + 1 :]:
        b, c = b @ layer["w"], c @ layer["w"] + layer["b"]
    w = jnp.linalg.pinv(a) @ (y - c[None, :]) @ jnp.linalg.pinv(b)  # (n_{j-1} + 1, n_j)
    new = list(params)
    new[j] = {"w": w[:-1], "b": w[-1]}
    return new


def make_run(model, x, y, lr: float, sweeps: int):
    """One compiled program: GD, gradient BCD and exact BCD from the same params."""
    vg = value_and_grad(model, "mse")
    n_layers = model.n_layers

    def step(p, grads, j=None):
        """p - lr * grad on every layer (j None) or on layer j only."""
        return [
            jax.tree.map(lambda w, g: w - lr * g, layer, grad) if j in (None, i) else layer
            for i, (layer, grad) in enumerate(zip(p, grads))
        ]

    def gd_step(p):  # (u.1): every gradient at the same point
        return step(p, vg(p, x, y)[1])

    def bcd_sweep(p):  # (u.2): layer j's gradient after layers 1..j-1 moved
        for j in range(n_layers):
            p = step(p, vg(p, x, y)[1], j)
        return p

    def run(params0):
        def body(carry, _):
            gd, bcd = gd_step(carry[0]), bcd_sweep(carry[1])
            out = (vg(gd, x, y)[0], vg(bcd, x, y)[0], end_to_end(gd)[0], end_to_end(bcd)[0])
            return (gd, bcd), out

        (gd, bcd), (loss_gd, loss_bcd, p_gd, p_bcd) = jax.lax.scan(
            body, (params0, params0), None, length=sweeps
        )
        exact, loss_exact = params0, []
        for _ in range(2):  # two sweeps of exact block solves, the loss after every block
            for j in range(n_layers):
                exact = solve_block(exact, j, x, y)
                loss_exact.append(vg(exact, x, y)[0])
        return {
            "gd": gd,
            "bcd": bcd,
            "loss_gd": loss_gd,
            "loss_bcd": loss_bcd,
            "map_gd": p_gd,
            "map_bcd": p_bcd,
            "loss_exact_blocks": jnp.stack(loss_exact),
            "loss_0": vg(params0, x, y)[0],
        }

    return jax.jit(run)


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.sweeps = min(args.sweeps, 300)
    key = jax.random.key(args.seed)
    k_data, k_init = jax.random.split(key)
    sizes = args.sizes
    x, y = make_data(k_data, args.n, sizes[0], sizes[-1], args.noise)
    model = funcnn.deep_linear(sizes)

    with Timer() as t:
        params0 = model.init(k_init)
        out = make_run(model, x, y, args.lr, args.sweeps)(params0)
        out = jax.tree.map(np.asarray, out)
    # The least-squares optimum L* of the end-to-end affine map.
    x1 = np.concatenate([np.asarray(x), np.ones((args.n, 1))], axis=1)
    w_ls = np.linalg.lstsq(x1, np.asarray(y), rcond=None)[0]
    loss_star = float(0.5 * np.mean(np.sum((x1 @ w_ls - np.asarray(y)) ** 2, axis=1)))
    loss_0 = float(out["loss_0"])

    def excess(loss):
        return (np.asarray(loss, np.float64) - loss_star) / (loss_0 - loss_star)

    map_diff = np.linalg.norm(out["map_gd"] - out["map_bcd"], axis=(1, 2)) / np.linalg.norm(
        out["map_gd"], axis=(1, 2)
    )
    layer_diff = [
        float(np.linalg.norm(g["w"] - b["w"]) / np.linalg.norm(g["w"]))
        for g, b in zip(out["gd"], out["bcd"])
    ]
    final = {
        "gd": float(excess(out["loss_gd"][-1])),
        "bcd": float(excess(out["loss_bcd"][-1])),
    }
    max_map_diff, max_at = float(map_diff.max()), int(np.argmax(map_diff)) + 1
    layer_over_map = max(layer_diff) / float(map_diff[-1])
    held = (
        max(final.values()) <= FIT_WITHIN
        and max_map_diff > TRAJECTORY_DIFF
        and layer_over_map > LAYER_OVER_MAP
    )
    exact_first_block = float(excess(out["loss_exact_blocks"][0]))

    plots = [plot_study(out, excess, map_diff, layer_diff, args)]
    headline = (
        f"excess loss after {args.sweeps} sweeps: GD {final['gd']:.1e}, BCD {final['bcd']:.1e}; "
        f"end-to-end difference: max {max_map_diff:.3f} (sweep {max_at}), final "
        f"{map_diff[-1]:.1e}; largest final layer difference {max(layer_diff):.3f} "
        f"({layer_over_map:.0f}x); exact BCD excess after its first block {exact_first_block:.0e}"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "loss_0": loss_0,
            "loss_star": loss_star,
            "final_loss": {"gd": float(out["loss_gd"][-1]), "bcd": float(out["loss_bcd"][-1])},
            "final_excess_fraction": final,
            "map_rel_diff_at_sweep": {
                k: float(map_diff[k - 1]) for k in (1, 10, 100, args.sweeps) if k <= args.sweeps
            },
            "layer_rel_diff_final": layer_diff,
            "map_rel_diff_max": max_map_diff,
            "map_rel_diff_argmax_sweep": max_at,
            "layer_over_map_final": layer_over_map,
            "exact_bcd_excess_after_each_block": excess(out["loss_exact_blocks"]),
            "sweeps_to_1pct": {
                m: int(np.argmax(excess(out[f"loss_{m}"]) <= FIT_WITHIN)) + 1
                if np.any(excess(out[f"loss_{m}"]) <= FIT_WITHIN)
                else None
                for m in ("gd", "bcd")
            },
        },
        plots=plots,
        wall_time_s=t.seconds,
    )


def plot_study(out, excess, map_diff, layer_diff, args) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), layout="constrained")
    sweeps = np.arange(1, args.sweeps + 1)
    floor = 1e-9
    ax = axes[0]
    ax.semilogy(sweeps, np.maximum(excess(out["loss_gd"]), floor), label="GD, all layers at once")
    ax.semilogy(sweeps, np.maximum(excess(out["loss_bcd"]), floor), "--",
                label="BCD, one gradient step per layer")  # fmt: skip
    blocks = np.arange(1, len(out["loss_exact_blocks"]) + 1) / (len(args.sizes) - 1)
    ax.semilogy(blocks, np.maximum(excess(out["loss_exact_blocks"]), floor), "o",
                label="exact BCD, after each block (rounding level: drawn at 1e-9)")  # fmt: skip
    ax.axhline(FIT_WITHIN, color="gray", lw=0.8, label="1% of the initial excess")
    ax.set(
        xscale="log",
        xlabel="sweep (GD step = one update of every layer)",
        ylabel="(L - L*) / (L_0 - L*)  (log)",
        title="Excess loss over the least-squares optimum",
    )
    ax.legend(fontsize=8)
    axes[1].loglog(sweeps, np.maximum(map_diff, floor))
    axes[1].axhline(TRAJECTORY_DIFF, color="gray", lw=0.8)
    axes[1].set(
        xlabel="sweep",
        ylabel="||P_GD - P_BCD||_F / ||P_GD||_F  (log)",
        title="End-to-end maps P = W_1 ... W_L: GD against BCD",
    )
    j = np.arange(1, len(layer_diff) + 1)
    axes[2].bar(j, layer_diff, label="layer W_j")
    axes[2].bar([len(j) + 1.5], [max(map_diff[-1], 0.0)], color="C1", label="end-to-end P")
    axes[2].set(
        xticks=[*j, len(j) + 1.5],
        xticklabels=[*(f"W_{i}" for i in j), "P"],
        ylabel="relative difference GD vs BCD",
        yscale="log",
        title=f"After {args.sweeps} sweeps: same map, different layers",
    )
    axes[2].legend(fontsize=8)
    return save_figure(fig, args.out / "deep_linear.png")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
