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
   depends on the method;
4. the loss is not convex ("not jointly convex in the set of all weights ... due to
   composition and coupling among each layer"): the balanced factorization of the
   least-squares map, the same with the signs of hidden layer 2 flipped
   (``W_2 -> -W_2, b_2 -> -b_2, W_3 -> -W_3``) and the same with a generic invertible
   rescaling of hidden layer 2 (``W_2 S, b_2 S, S^-1 W_3``; S a random orthogonal matrix times random
   scales in [0.5, 2]) have the same map and are global minimizers: in float64 all three are
   within 1e-9 (L_0 - L*) of L*, with largest gradient entries below 1e-9 times the one at
   the initialization. The loss at the midpoint of the first two exceeds L* by more than
   0.1 (L_0 - L*); a convex loss would be at most L* there.

Also measured (not part of the claim): exact block-coordinate descent, each block solved by
least squares (with the other layers fixed, the loss is a convex quadratic in W_j), reaches the
optimum with its first block; and the loss along the segments from the first minimizer of 4
to the other two (for the generic rescaling the midpoint is above L* as well).

The gradients are ``funcnn.backprop.value_and_grad(funcnn.deep_linear(sizes), "mse")``, the
lecture's delta recursion with identity activations. The updates are the library's:
``funcnn.layerwise.simultaneous_step`` (u.1), ``layerwise_sweep`` (u.2, block coordinate
descent with one gradient step per block), ``solve_block`` (exact BCD) and, for 4,
``minimizer_pair`` and ``equivalent_params``. Both gradient methods run as one compiled
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
from funcnn import layerwise
from funcnn.backprop import value_and_grad

NAME = "deep_linear"
CLAIM = (
    "4-layer linear net, same init and step: GD (all layers) and layer-wise BCD both get within "
    "1% of the LS optimum; their end-to-end maps differ > 5% along the way; at the end some "
    "layer differs > 10x more than the maps do; not convex: global minimizers with the same map "
    "(hidden layer 2's signs flipped, or rescaled) and a midpoint > 10% of the initial excess "
    "above L*"
)
FIT_WITHIN = 0.01  # (L_k - L*) / (L_0 - L*)
TRAJECTORY_DIFF = 0.05  # max over sweeps of the end-to-end relative difference
LAYER_OVER_MAP = 10.0  # final max layer difference / final end-to-end difference
MINIMIZER_TOL = 1e-9  # float64: excess / (L_0 - L*) and max|grad| / max|grad at init|
MIDPOINT_ABOVE = 0.1  # (L_mid - L*) / (L_0 - L*) of the sign-flipped pair
HIDDEN = 1  # params index of hidden layer 2, whose units are flipped (W_2, b_2 and W_3 change)


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


def make_run(model, x, y, lr: float, sweeps: int):
    """One compiled program: GD, gradient BCD and exact BCD from the same params."""
    vg = value_and_grad(model, "mse")
    n_layers = model.n_layers

    def grad_fn(p):
        return vg(p, x, y)[1]

    def run(params0):
        def body(carry, _):
            gd = layerwise.simultaneous_step(grad_fn, carry[0], lr)  # (u.1): one point
            bcd = layerwise.layerwise_sweep(grad_fn, carry[1], lr)  # (u.2): layers in turn
            out = (
                vg(gd, x, y)[0],
                vg(bcd, x, y)[0],
                layerwise.end_to_end(model, gd)[0],
                layerwise.end_to_end(model, bcd)[0],
            )
            return (gd, bcd), out

        (gd, bcd), (loss_gd, loss_bcd, p_gd, p_bcd) = jax.lax.scan(
            body, (params0, params0), None, length=sweeps
        )
        exact, loss_exact = params0, []
        for _ in range(2):  # two sweeps of exact block solves, the loss after every block
            for j in range(n_layers):
                exact = layerwise.solve_block(model, exact, j, x, y)
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


def random_rescaling(key, n: int):
    """A generic invertible S: a random orthogonal matrix (QR of a Gaussian) times scales in
    [0.5, 2], log-uniform."""
    k_q, k_d = jax.random.split(key)
    q, r = np.linalg.qr(np.asarray(jax.random.normal(k_q, (n, n)), np.float64))
    q = q * np.sign(np.diag(r))[None, :]  # the Haar-distributed orthogonal factor
    scales = np.exp(np.asarray(jax.random.uniform(k_d, (n,)), np.float64) * np.log(4.0) - np.log(2))
    return q * scales[None, :]


def nonconvexity(model, params0, x, y, hidden: int, s_generic, ts):
    """Two pairs of minimizers in float64 and the loss along the segments between them.

    Returns the losses and largest gradient entries of the sign-flipped pair, the loss along
    the segment ``(1 - t) a + t b`` for that pair and for ``(a, a with W_2 S, S^-1 W_3)``, and
    the largest gradient entry at ``params0`` (the scale "~0" is measured against).
    """
    with jax.enable_x64(True):
        x, y = (jnp.asarray(np.asarray(v), jnp.float64) for v in (x, y))
        params0 = jax.tree.map(lambda v: jnp.asarray(np.asarray(v), jnp.float64), params0)
        vg = value_and_grad(model, "mse")

        def run(params0, x, y, s_generic):
            a, b = layerwise.minimizer_pair(model, x, y, j=hidden, s=-1.0)
            c = layerwise.equivalent_params(model, a, hidden, s_generic)

            def segment(p, q):
                return jax.vmap(lambda t: vg(layerwise.interpolate(p, q, t), x, y)[0])(ts)

            def max_grad(p):
                return jnp.max(
                    jnp.stack([jnp.max(jnp.abs(g)) for g in jax.tree.leaves(vg(p, x, y)[1])])
                )

            return {
                "loss_ends": jnp.stack([vg(p, x, y)[0] for p in (a, b, c)]),
                "max_grad_ends": jnp.stack([max_grad(p) for p in (a, b, c)]),
                "max_grad_init": max_grad(params0),
                "segment_sign": segment(a, b),
                "segment_generic": segment(a, c),
            }

        out = jax.jit(run)(params0, x, y, jnp.asarray(s_generic))
        return jax.tree.map(lambda v: np.asarray(v, np.float64), out)


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if len(args.sizes) < 3:
        parser.error("--sizes needs at least two layers (n_0 n_1 n_2): part 4 flips a hidden layer")
    if args.quick:
        args.sweeps = min(args.sweeps, 300)
    key = jax.random.key(args.seed)
    k_data, k_init = jax.random.split(key)
    sizes = args.sizes
    x, y = make_data(k_data, args.n, sizes[0], sizes[-1], args.noise)
    model = funcnn.deep_linear(sizes)

    hidden = min(HIDDEN, model.n_layers - 2)
    s_generic = random_rescaling(jax.random.fold_in(key, 2), sizes[hidden + 1])
    ts = np.linspace(0.0, 1.0, 41)  # t = 1/2 is ts[20]

    with Timer() as t:
        params0 = model.init(k_init)
        out = make_run(model, x, y, args.lr, args.sweeps)(params0)
        out = jax.tree.map(np.asarray, out)
        nc = nonconvexity(model, params0, x, y, hidden, s_generic, ts)
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
    # 4. Non-convexity: two global minimizers, measured in float64.
    ends_excess = excess(nc["loss_ends"])  # a, b (sign flip), c (generic S)
    ends_grad = nc["max_grad_ends"] / nc["max_grad_init"]
    mid = len(ts) // 2
    mid_excess = float(excess(nc["segment_sign"][mid]))
    mid_excess_generic = float(excess(nc["segment_generic"][mid]))
    nonconvex = (
        float(np.max(np.abs(ends_excess))) <= MINIMIZER_TOL
        and float(np.max(ends_grad)) <= MINIMIZER_TOL
        and mid_excess > MIDPOINT_ABOVE
    )
    held = held and nonconvex

    plots = [plot_study(out, excess, map_diff, layer_diff, nc, ts, args)]
    headline = (
        f"excess loss after {args.sweeps} sweeps: GD {final['gd']:.1e}, BCD {final['bcd']:.1e}; "
        f"end-to-end difference: max {max_map_diff:.3f} (sweep {max_at}), final "
        f"{map_diff[-1]:.1e}; largest final layer difference {max(layer_diff):.3f} "
        f"({layer_over_map:.0f}x); exact BCD excess after its first block {exact_first_block:.0e}; "
        f"not convex: minimizers' excess {np.max(np.abs(ends_excess)):.0e}, gradient "
        f"{np.max(ends_grad):.0e} of init's; midpoint excess {mid_excess:.2f} "
        f"(generic rescaling: {mid_excess_generic:.2f})"
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
            "nonconvexity": {
                "hidden_layer_flipped": hidden + 1,
                "minimizers": ["balanced LS factorization", "signs flipped", "generic S"],
                "minimizers_excess_fraction": ends_excess,
                "minimizers_max_grad_over_init": ends_grad,
                "max_grad_init": float(nc["max_grad_init"]),
                "midpoint_excess_fraction": mid_excess,
                "midpoint_loss": float(nc["segment_sign"][mid]),
                "generic_rescaling_midpoint_excess_fraction": mid_excess_generic,
                "segment_t": ts,
                "segment_excess_fraction_sign_flip": excess(nc["segment_sign"]),
                "segment_excess_fraction_generic": excess(nc["segment_generic"]),
            },
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


def plot_study(out, excess, map_diff, layer_diff, nc, ts, args) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.3), layout="constrained")
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
    ax = axes[3]
    ax.plot(
        ts, excess(nc["segment_sign"]), label="to the sign-flipped minimizer (-W_2, -b_2, -W_3)"
    )
    ax.plot(ts, excess(nc["segment_generic"]), "--", label="to W_2 S, S^-1 W_3 (generic S)")
    ends = excess(nc["loss_ends"][:2])
    ax.plot([0, 1], ends, "k:", lw=1, label="chord: a convex loss stays below it")
    ax.axhline(MIDPOINT_ABOVE, color="gray", lw=0.8, label="claim: midpoint above this")
    ax.plot([0, 1], ends, "ko", ms=4)
    ax.set(
        xlabel="t: (1 - t) minimizer + t other minimizer (same map)",
        ylabel="(L - L*) / (L_0 - L*)",
        title="Not convex: the segment between two global minimizers",
    )
    top = float(np.max(excess(nc["segment_sign"])))
    ax.set_ylim(-0.05 * top, 1.55 * top)  # room for the legend above the curves
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, args.out / "deep_linear.png")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
