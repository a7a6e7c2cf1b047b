"""Gradients vanish through deep sigmoid or small-initialized MLPs, explode through
large-gain ones; the matched scheme keeps them.

Claim (the digest, section 5 "Numerical Stability and Initialization"; the lecture's practical
issues, "vanishing gradient (numbers below machine precision)"): at initialization, in an MLP
of 50 layers, the back-propagated error signal of the lecture's delta recursion,
delta_j = (W_{j+1}^T delta_{j+1}) o sigma'_j, shrinks geometrically towards the input when the
activation is the sigmoid (whatever the scheme: sigma' <= 1/4) or when the weights are drawn
from N(0, 0.01^2) (whatever the activation): the ratio ||delta_1|| / ||delta_L|| of the first
layer's to the last layer's is below 1e-3. With the scheme matched to the activation (Xavier
for tanh, He for ReLU) it stays within [1e-2, 1e2] over the 50 layers: no geometric decay.
With too large a gain it explodes instead: ReLU with He's draw times 2 (std 2 sqrt(2/n)) has
``||delta_1|| / ||delta_L|| > 1e3``. Why: each ReLU layer multiplies the expected squared
norm of the delta by n Var(w) / 2 (half the units pass), which He makes 1 and gain 2 makes 4,
so the ratio grows like 2^(L-1), about 5e14 at L = 50 (measured in quick mode, width 64, one
draw: 5.0e15, the finite-width wander of ReLU+He's 7.2 on top; float64 keeps it finite, and
so would float32 at this depth). Measured beside it: tanh with the same doubled He draw
explodes too (6e5), sigmoid with it still vanishes (2e-14: sigma' <= 1/4 outweighs the gain).

Why that band and not a tighter one: Xavier keeps Var(delta_j) = Var(delta_{j+1}) only to first
order (sigma'(0) = 1); tanh' < 1 away from 0 still shrinks delta slowly, like a power of the
depth rather than exponentially, to about 0.1 to 0.25 at 50 layers; ReLU+He's
ratio wanders with the finite width (between about 1 and 20 at width 64). Both are more than 20
orders of magnitude away from the vanishing configurations.

Setup: every layer of one width n (input, hidden and the identity output layer), a batch of n
standard-normal inputs, the mean squared error against standard-normal targets, zero biases.
The three schemes use the same random draws (funcnn's ``normal``, ``xavier_normal``,
``he_normal`` with the same keys), so they differ only in scale; a network of depth L uses the
last L - 1 hidden layers of the deepest one. The recursion runs in float64, so that vanishing
signals keep their magnitude on the plots, as a ``lax.scan`` over the layers built from
``funcnn.backprop``'s blocks (one compile for every depth); the claim also requires its deltas
to equal those of ``funcnn.backprop.mlp_backward`` (relative difference < 1e-10). The same pass
in float32 counts the layers whose delta underflows to exactly zero. The weight gradients
dL/dW_j = z_{j-1}^T delta_j are plotted too: with small init and tanh or ReLU they are flat
across layers but uniformly tiny, because the forward signal z_j vanishes as well.

Usage::

    python -m experiments.init_and_depth [--quick] [--seed 0] [--out results/init_and_depth]
"""

from __future__ import annotations

import functools
import sys

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, save_figure
from funcnn.backprop import (
    ActivationCache,
    DenseCache,
    activation_backward,
    activation_forward,
    dense_backward,
    dense_forward,
    loss_backward,
    loss_forward,
    mlp_backward,
    mlp_forward,
)
from funcnn.initializers import get_initializer

NAME = "init_and_depth"
CLAIM = (
    "at depth 50, ||delta_1||/||delta_L|| < 1e-3 for sigmoid (any init) and for N(0, 0.01^2) "
    "init (any activation); within [1e-2, 1e2] for tanh+Xavier and ReLU+He; > 1e3 for ReLU "
    "with He's gain doubled (exploding)"
)

ACTIVATIONS = ("sigmoid", "tanh", "relu")
#: scheme label -> (funcnn initializer name, its options, gain multiplying its draw)
SCHEMES = {
    "small normal (0.01)": ("normal", {"std": 0.01}, 1.0),
    "Xavier": ("xavier_normal", {}, 1.0),
    "He": ("he_normal", {}, 1.0),
    "He x 2": ("he_normal", {}, 2.0),
}
EXPLODING = "relu + He x 2"
EXPLODE_ABOVE = 1e3
MATCHED = {"tanh": "Xavier", "relu": "He"}
VANISH_BELOW = 1e-3
STABLE_RANGE = (1e-2, 1e2)
CHECK_RTOL = 1e-10  # scan recursion vs funcnn.backprop.mlp_backward, float64


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument(
        "--depths",
        type=int,
        nargs="+",
        default=[10, 20, 30, 40, 50],
        help="numbers of layers L (the claim is checked at the largest)",
    )
    p.add_argument(
        "--width", type=int, default=128, help="width n of every layer, and the batch size"
    )
    p.add_argument(
        "--draws", type=int, default=3, help="independent inits per config (median reported)"
    )
    return p


# --- the network: L square layers, the last one the identity output layer --------------------


def init_params(key, scheme: str, depth: int, width: int, dtype):
    """``(hidden, out)`` of the deepest network: hidden ``{"w": (depth-1, n, n),
    "b": (depth-1, n)}``, out ``{"w": (n, n), "b": (n,)}``; biases zero.

    Layer j's weights come from funcnn's initializer with key ``fold_in(key, j)``, so every
    scheme sees the same standard-normal draw, scaled by its own standard deviation.
    """
    name, options, gain = SCHEMES[scheme]
    init = get_initializer(name, **options)
    w = [gain * init(jax.random.fold_in(key, j), (width, width), dtype) for j in range(depth)]
    hidden = {"w": jnp.stack(w[:-1]), "b": jnp.zeros((depth - 1, width), dtype)}
    out = {"w": w[-1], "b": jnp.zeros((width,), dtype)}
    return hidden, out


def layer_norms(act: str, hidden, out, x, y, n_hidden_active):
    """Per-layer ||delta_j||_F and ||dL/dW_j||_F of the network made of the last
    ``n_hidden_active`` hidden layers and the output layer (so of depth n_hidden_active + 1).

    The forward and backward passes are ``lax.scan``s over the stacked hidden layers (one
    compile for all depths); the layers before the active ones pass their input on unchanged
    and report NaN.

    Returns:
        ``(delta_norms, weight_grad_norms)``, each ``(depth_max,)``, output layer last.
    """
    n_hidden = hidden["w"].shape[0]
    active = jnp.arange(n_hidden) >= n_hidden - n_hidden_active  # (n_hidden,) bool

    def forward(z, layer_on):
        layer, on = layer_on
        a, _ = dense_forward(layer, z)  # a_j = z_{j-1} @ w_j + b_j
        z_next, _ = activation_forward(act, a)  # z_j = sigma(a_j)
        return jnp.where(on, z_next, z), (z, a)

    z, (z_prev, a) = jax.lax.scan(forward, x, (hidden, active))
    y_hat, _ = dense_forward(out, z)  # identity output layer: z_L = a_L
    _, loss_cache = loss_forward("mse", y_hat, y)
    delta_L, _ = loss_backward("mse", loss_cache)  # delta_L = dL/dz_L o 1
    grad_out, dz = dense_backward(out, DenseCache(z), delta_L)  # dz = W_L^T delta_L

    def backward(dz, xs):
        layer, z_prev_j, a_j, on = xs
        delta = activation_backward(act, ActivationCache(a_j), dz)  # (W^T delta) o sigma'_j
        grad, dz_prev = dense_backward(layer, DenseCache(z_prev_j), delta)  # dL/dW_j, W_j^T delta_j
        norms = jnp.stack([jnp.linalg.norm(delta), jnp.linalg.norm(grad["w"])])
        return jnp.where(on, dz_prev, dz), jnp.where(on, norms, jnp.nan)

    _, norms = jax.lax.scan(backward, dz, (hidden, z_prev, a, active), reverse=True)
    last = jnp.stack([jnp.linalg.norm(delta_L), jnp.linalg.norm(grad_out["w"])])
    norms = jnp.concatenate([norms, last[None, :]], axis=0)  # (depth_max, 2)
    return norms[:, 0], norms[:, 1]


@jax.jit
def all_profiles(hidden, out, x, y, n_hidden_active):
    """Every activation at once (one compile): for each, norms ``(runs, D, depth_max)`` x 2.

    Args:
        hidden, out: params stacked over runs (schemes x draws), ``(runs, ...)``.
        x, y: ``(runs, n, n)``.
        n_hidden_active: ``(D,)`` ints, one network depth - 1 per entry.
    """
    result = {}
    for act in ACTIVATIONS:
        per_depth = jax.vmap(
            functools.partial(layer_norms, act), in_axes=(None, None, None, None, 0)
        )
        result[act] = jax.vmap(per_depth, in_axes=(0, 0, 0, 0, None))(
            hidden, out, x, y, n_hidden_active
        )
    return result


def check_against_mlp_backward(act, hidden, out, x, y, depth, deltas_scan) -> float:
    """Largest relative difference between the scan's ||delta_j|| and those of
    ``funcnn.backprop.mlp_backward`` for the same network of ``depth`` layers."""
    n_h = depth - 1
    params = [{"w": hidden["w"][j], "b": hidden["b"][j]} for j in range(-n_h, 0)] + [out]
    model = funcnn.mlp([x.shape[1]] * (depth + 1), act)
    y_hat, cache = mlp_forward(model, params, x)
    _, loss_cache = loss_forward("mse", y_hat, y)
    dout, _ = loss_backward("mse", loss_cache)
    _, _, deltas = mlp_backward(model, params, cache, dout)  # deltas[j-1] = delta_j
    reference = np.array([float(jnp.linalg.norm(d)) for d in deltas])
    mine = np.asarray(deltas_scan)[-depth:]
    return float(np.max(np.abs(mine - reference) / reference))


# --- the study ------------------------------------------------------------------------------


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.depths, args.width, args.draws = [10, 30, 50], 64, 1
    if min(args.depths) < 2:
        raise ValueError(f"--depths must all be >= 2; got {args.depths}.")
    depths = sorted(set(args.depths))
    deepest, n, draws = depths[-1], args.width, args.draws
    n_active = np.array([d - 1 for d in depths])
    schemes = list(SCHEMES)
    key = jax.random.key(args.seed)
    k_params, k_x, k_y = jax.random.split(key, 3)

    with Timer() as t:
        with jax.enable_x64(True):
            f64 = jnp.float64
            # runs = schemes x draws; draw i uses the same keys under every scheme.
            params = [
                init_params(jax.random.fold_in(k_params, i), s, deepest, n, f64)
                for s in schemes
                for i in range(draws)
            ]
            hidden, out = jax.tree.map(lambda *a: jnp.stack(a), *params)
            x = jnp.stack(
                [jax.random.normal(jax.random.fold_in(k_x, i), (n, n), f64) for i in range(draws)]
            )
            y = jnp.stack(
                [jax.random.normal(jax.random.fold_in(k_y, i), (n, n), f64) for i in range(draws)]
            )
            x, y = jnp.tile(x, (len(schemes), 1, 1)), jnp.tile(y, (len(schemes), 1, 1))
            norms64 = all_profiles(hidden, out, x, y, n_active)
            # float32: the same networks, deepest only; count deltas that underflow to 0.
            norms32 = all_profiles(
                *jax.tree.map(lambda a: a.astype(jnp.float32), (hidden, out, x, y)),
                n_active[-1:],
            )
            # The scan's deltas are funcnn.backprop.mlp_backward's (first draw, matched or
            # Xavier scheme, shallowest depth).
            worst_check = 0.0
            for act in ACTIVATIONS:
                r = schemes.index(MATCHED.get(act, "Xavier")) * draws
                net = jax.tree.map(lambda a, r=r: a[r], (hidden, out))
                worst_check = max(
                    worst_check,
                    check_against_mlp_backward(
                        act, *net, x[r], y[r], depths[0], norms64[act][0][r, 0]
                    ),
                )

    delta, weight_grad, underflow = {}, {}, {}
    for act in ACTIVATIONS:
        for i, s in enumerate(schemes):
            name = f"{act} + {s}"
            runs = slice(i * draws, (i + 1) * draws)
            delta[name] = np.asarray(norms64[act][0][runs])  # (draws, D, depth_max)
            weight_grad[name] = np.asarray(norms64[act][1][runs])
            d32 = np.asarray(norms32[act][0][runs, 0])  # (draws, depth_max)
            underflow[name] = int(np.median(np.sum(d32 == 0.0, axis=1)))

    # ||delta_1|| / ||delta_L|| per depth, median over draws (delta_1 sits at depth_max - L).
    ratios = {
        name: {
            depth: float(np.median(d[:, i, deepest - depth] / d[:, i, -1]))
            for i, depth in enumerate(depths)
        }
        for name, d in delta.items()
    }
    at_depth = {name: r[deepest] for name, r in ratios.items()}
    vanishing = [f"sigmoid + {s}" for s in SCHEMES if SCHEMES[s][2] == 1.0] + [
        f"{a} + small normal (0.01)" for a in ACTIVATIONS[1:]
    ]
    stable = [f"{a} + {s}" for a, s in MATCHED.items()]
    held = (
        all(at_depth[c] < VANISH_BELOW for c in vanishing)
        and all(STABLE_RANGE[0] <= at_depth[c] <= STABLE_RANGE[1] for c in stable)
        and at_depth[EXPLODING] > EXPLODE_ABOVE
        and worst_check < CHECK_RTOL
    )
    profiles = {
        name: {
            "delta": np.median(delta[name][:, -1], axis=0),
            "weight_grad": np.median(weight_grad[name][:, -1], axis=0),
        }
        for name in delta
    }
    plots = [plot_profiles(profiles, deepest, args), plot_ratios(ratios, depths, args)]
    worst_vanish = max(at_depth[c] for c in vanishing)
    headline = (
        f"depth {deepest}: ||delta_1||/||delta_L|| sigmoid+small {at_depth[vanishing[0]]:.1e}, "
        f"largest vanishing config {worst_vanish:.1e}; tanh+Xavier "
        f"{at_depth['tanh + Xavier']:.2f}, ReLU+He {at_depth['relu + He']:.2f}; ReLU+He x 2 "
        f"{at_depth[EXPLODING]:.1e}; "
        f"float32 zero-delta layers (sigmoid+small) {underflow[vanishing[0]]}/{deepest}"
    )
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers={
            "depth_checked": deepest,
            "ratio_first_to_last_delta": ratios,
            "ratio_at_deepest": at_depth,
            "vanishing_configs": vanishing,
            "stable_configs": stable,
            "exploding_config": EXPLODING,
            "float32_layers_with_zero_delta": underflow,
            "scan_vs_mlp_backward_max_rel_diff": worst_check,
            "delta_norm_per_layer": {n: p["delta"] for n, p in profiles.items()},
            "weight_grad_norm_per_layer": {n: p["weight_grad"] for n, p in profiles.items()},
        },
        plots=plots,
        config={"depths": depths},
        wall_time_s=t.seconds,
    )


def plot_profiles(profiles: dict, depth: int, args) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5), sharex=True, layout="constrained")
    layers = np.arange(1, depth + 1)
    for col, act in enumerate(ACTIVATIONS):
        for scheme in SCHEMES:
            name = f"{act} + {scheme}"
            style = "-" if MATCHED.get(act) == scheme else "--"
            for row, what in enumerate(("delta", "weight_grad")):
                axes[row, col].semilogy(
                    layers, profiles[name][what], style, marker=".", ms=4, label=scheme
                )
        axes[0, col].set(
            title=f"{act}: ||delta_j|| at init (L = {depth})", ylabel="||delta_j||_F (log scale)"
        )
        axes[1, col].set(
            title=f"{act}: ||dL/dW_j|| at init",
            xlabel="layer j (1 = input side, L = output)",
            ylabel="||dL/dW_j||_F (log scale)",
        )
        axes[0, col].legend(fontsize=8)
    fig.suptitle(
        f"Per-layer gradient norms at initialization: width {args.width}, float64 "
        "(solid: the scheme matched to the activation)"
    )
    return save_figure(fig, args.out / "grad_norm_per_layer.png")


def plot_ratios(ratios: dict, depths: list, args) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5.5))
    markers = {"sigmoid": "o", "tanh": "s", "relu": "^"}
    for name, r in ratios.items():
        act, scheme = name.split(" + ")
        style = "-" if MATCHED.get(act) == scheme else ":"
        ax.semilogy(depths, [r[d] for d in depths], style, marker=markers[act], label=name)
    ax.axhspan(*STABLE_RANGE, color="green", alpha=0.12, label="stable band [1e-2, 1e2]")
    ax.axhline(VANISH_BELOW, color="red", lw=0.8, label="vanishing threshold 1e-3")
    ax.axhline(EXPLODE_ABOVE, color="purple", lw=0.8, label="exploding threshold 1e3")
    ax.set(
        xlabel="depth L (layers)",
        ylabel="||delta_1|| / ||delta_L|| (log scale)",
        title="First-to-last-layer gradient ratio against depth",
    )
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    return save_figure(fig, args.out / "ratio_vs_depth.png")


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
