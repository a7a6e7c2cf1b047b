"""Convolution is a dense layer with a circulant (or Toeplitz) W_j; its weights are shared; and
on MNIST-1D the spatial order of the input is what a CNN uses and an MLP ignores.

Claim (seed 003's taxonomy: "Convolutional NN: W_j is circulant: W_j z_{j-1} is convolution of
z_{j-1}"; the digest, section 7: an MLP is invariant to the order of its features, so it gets
similar results whether or not the columns of the design matrix are permuted), in three parts:

(a) For every setting below (kernel 3 or 5, stride 1 or 2, dilation 1 or 2, one channel or
2 -> 3, circular or zero padding), the layer's output equals ``W @ x.flatten() + b`` of its
explicit matrix (:func:`funcnn.conv_matrix`) to within 1e-12 in float64 (measured: <= 2e-15).
A wrong matrix misses by O(1): the matrix of the flipped kernel (a true convolution instead of
the cross-correlation deep learning calls convolution), reported beside it, misses by 0.99 to
2.9 over seeds 0-2. ``W`` is circulant (:func:`~funcnn.blocks.conv_matrix.is_circulant`) for
circular padding, Toeplitz and not circulant for zero padding
(:func:`~funcnn.blocks.conv_matrix.is_toeplitz`); with stride ``s`` it is every ``s``-th row
of the stride-1 matrix; with channels, every ``(c_out, c_in)`` block is circulant.

(b) Weight sharing: each convolution of funcnn's MNIST-1D CNN (the recipe of ``funcnn train
--model cnn``: 64-64-128-128 channels, kernel 5, circular) and of the MNIST-1D paper's ConvBase
has ``prod(k) c_in c_out + c_out`` parameters; its explicit ``W``, built from its kernel with
the entries labelled 1, 2, ..., n, has ``n_out x n_in`` entries but holds exactly those n
distinct non-zero values; the layers' counts plus the classifier's add up to the model's
parameter count; and the dense layer with the same ``W`` would need >= 10x the parameters of
every convolution (measured: 40x to 273x for funcnn's CNN, 16.5x to 130x for ConvBase; the ratio
is about ``L_in L_out / k``, so it is smallest for the last, shortest layer).

(c) On MNIST-1D with one fixed permutation of the 40 positions drawn from the study's key (the
same for the training and the test set), a small circular CNN (16-32 channels, kernel 5,
stride 2, global average pooling, 3,018 parameters) and a 40-100-100-10 ReLU MLP (15,210),
trained alike (Adam 1e-2, batch 100, 60 epochs = 2,400 updates; quick mode 15 epochs) over several
seeds: the CNN's mean test accuracy falls by at least 20 points (quick mode: 15) while the
MLP's moves by at most 3 pooled seed standard deviations (sample std, ddof 1, of the ordered
and the shuffled runs). The MLP's invariance is exact in distribution: a permuted input is the
same MLP with the rows of its first weight matrix permuted, which the i.i.d. initialization
draws with the same probability and Adam updates coordinate-wise alike, so only seed noise
separates the two means. The CNN's convolutions mix neighbouring positions; after the shuffle
its neighbours are unrelated samples. The claim fails if the permutation differed between
the training and the test set (the MLP falls towards chance), or if the CNN did not depend on
the order of its inputs. Measured: full mode (5 seeds), study seeds 1 and 2: CNN 88.2% ->
51.3% and 88.3% -> 54.6% (drops of 37 and 34 points), MLP 65.7% -> 65.7% and 65.6% (0.0 and
0.1 points, seed std 0.9 and 2.4); quick mode (3 seeds), seeds 0-2: CNN 79.6-81.2% ->
47.5-51.4% (drops of 28-33 points), MLP moves 0.1-1.6 points = 0.1-1.5 pooled stds.

Usage::

    python -m experiments.convolution [--quick] [--seed 0] [--out results/convolution]
"""

from __future__ import annotations

import math
import sys

import jax
import jax.numpy as jnp
import numpy as np

import funcnn
from experiments.common import Timer, finish, make_parser, pyplot, run_seeds, save_figure
from funcnn.blocks import Conv
from funcnn.blocks.conv_matrix import conv_matrix, is_circulant, is_toeplitz, param_counts
from funcnn.data import load
from funcnn.train import MODELS, RECIPES, fit_seeds

NAME = "convolution"
CLAIM = (
    "conv = W x + b to <= 1e-12 (float64), W circulant (circular padding) / Toeplitz (zeros); "
    "each conv's W has prod(k) c_in c_out distinct values, its dense equivalent >= 10x the "
    "params; shuffling MNIST-1D's 40 positions costs a small CNN >= 20 points (quick: 15) and "
    "moves an MLP by <= 3 seed stds"
)
MATRIX_TOL = 1e-12  # float64; measured <= 1e-15 (module docstring)
DENSE_RATIO = 10.0  # dense / conv parameters, every layer; measured >= 16.5
CNN_DROP = {"full": 0.20, "quick": 0.15}  # measured 34-37 (full), 28-33 (quick) points
MLP_STDS = 3.0  # measured <= 1.5 pooled seed stds
LENGTH = 16  # the sequences of part (a)

# Part (a): name -> (block, structure): "circulant", "toeplitz", "strided" (every s-th row of
# the stride-1 matrix, itself circulant or Toeplitz), "block circulant" (channels).
SETTINGS = {
    "circular k=3": (Conv(1, 1, 3, 1, "circular"), "circulant"),
    "circular k=5 dilation 2": (Conv(1, 1, 5, 1, "circular", dilation=2), "circulant"),
    "zeros k=3 ('same')": (Conv(1, 1, 3, 1, "same"), "toeplitz"),
    "zeros k=3 ('valid')": (Conv(1, 1, 3, 1, "valid"), "toeplitz"),
    "circular k=3 stride 2": (Conv(1, 1, 3, 2, "circular"), "strided"),
    "zeros k=5 stride 2 pad 1": (Conv(1, 1, 5, 2, 1), "strided"),
    "circular k=3, 2 -> 3 channels": (Conv(2, 3, 3, 1, "circular"), "block circulant"),
}


def build_parser():
    p = make_parser(NAME, __doc__)
    p.add_argument("--epochs", type=int, default=60, help="epochs of part (c) (40 updates each)")
    p.add_argument("--n-seeds", type=int, default=5, help="runs per model and data order")
    p.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate of part (c)")
    return p


# -- the spatial shuffle (also used by experiments.mnist1d_table) -------------------------------


def position_permutation(key, length: int = 40) -> np.ndarray:
    """One fixed permutation of the ``length`` positions, drawn from ``key``."""
    return np.asarray(jax.random.permutation(key, length))


def shuffle_positions(data, perm: np.ndarray):
    """``data`` with the columns (positions) of every input set permuted by ``perm``: the same
    permutation for the training and the test set, as in the MNIST-1D paper."""
    perm = np.asarray(perm)
    if sorted(perm.tolist()) != list(range(data.x_train.shape[1])):
        raise ValueError(f"perm must be a permutation of the {data.x_train.shape[1]} positions.")
    return data._replace(
        x_train=data.x_train[:, perm],
        x_test=data.x_test[:, perm],
        x_val=None if data.x_val is None else data.x_val[:, perm],
    )


# -- (a) the explicit matrix ----------------------------------------------------------------


def structure_holds(block: Conv, W: np.ndarray, kind: str, params) -> bool:
    """Whether ``W`` has the structure ``kind`` (see :data:`SETTINGS`)."""
    if kind == "circulant":
        return is_circulant(W)
    if kind == "toeplitz":
        return is_toeplitz(W) and not is_circulant(W)
    if kind == "strided":
        s = block.stride[0]
        W1, _ = conv_matrix(
            Conv(block.in_channels, block.out_channels, block.kernel_size, 1, block.padding),
            params,
            LENGTH,
        )
        base = is_circulant(W1) if block.padding == "circular" else is_toeplitz(W1)
        return base and np.array_equal(W, W1[::s])
    if kind == "block circulant":
        c_in, c_out = block.in_channels, block.out_channels
        return all(is_circulant(W[o::c_out, c::c_in]) for o in range(c_out) for c in range(c_in))
    raise ValueError(f"unknown structure {kind!r}")


def matrix_case(block: Conv, kind: str, draws: np.ndarray) -> dict:
    """Conv output vs ``W x + b`` in float64, the flipped-kernel control, and the structure.

    ``draws``: standard normal numbers (float64) for the kernel, the bias and 4 inputs."""
    w_shape = (*block.kernel_size, block.in_channels, block.out_channels)
    x_shape = (4, LENGTH, block.in_channels)
    n_w, n_b = math.prod(w_shape), block.out_channels
    params = {"w": draws[:n_w].reshape(w_shape), "b": draws[n_w : n_w + n_b]}
    x = draws[n_w + n_b : n_w + n_b + math.prod(x_shape)].reshape(x_shape)
    with jax.enable_x64(True):
        out = np.asarray(block.apply(params, jnp.asarray(x))).reshape(4, -1)  # position-major
    W, bias = conv_matrix(block, params, LENGTH)
    flat = x.reshape(4, -1)
    err = float(np.max(np.abs(out - (flat @ W.T + bias))))
    Wf, _ = conv_matrix(block, {"w": params["w"][::-1], "b": params["b"]}, LENGTH)
    err_flipped = float(np.max(np.abs(out - (flat @ Wf.T + bias))))
    return {
        "shape": list(W.shape),
        "structure": kind,
        "structure_holds": bool(structure_holds(block, W, kind, params)),
        "is_circulant": bool(is_circulant(W)),
        "is_toeplitz": bool(is_toeplitz(W)),
        "max_abs_error": err,
        "max_abs_error_flipped_kernel": err_flipped,
        "W": W,
    }


# -- (b) weight sharing -------------------------------------------------------------------------


def n_params(model) -> int:
    """The model's parameter count from the shapes ``init`` would give (nothing drawn)."""
    return funcnn.param_count(jax.eval_shape(model.init, jax.random.key(0)))


def sharing_table(net) -> dict:
    """Per convolution of ``net``: its parameter count, the dense equivalent's, and the
    distinct non-zero values of its explicit ``W`` built from a labelled kernel."""
    params = jax.eval_shape(net.init, jax.random.key(0))  # shapes only
    layers, it = [], iter(params)
    counted = 0
    for block, shape in zip(net.blocks, net.shapes):
        p = next(it) if block.has_params else None
        if isinstance(block, Conv):
            counts = param_counts(block, shape[:-1])
            # W built from the kernel with its entries labelled 1, 2, ..., n (exact in
            # float64): which of them it holds, and nothing else.
            labels = np.arange(1, math.prod(p["w"].shape) + 1.0).reshape(p["w"].shape)
            W, _ = conv_matrix(block, {"w": labels, "b": np.zeros(p["b"].shape)}, shape[:-1])
            values = np.unique(W)
            n_distinct = int(values[values != 0].size)
            exact = np.array_equal(values[values != 0], labels.ravel())
            layers.append(
                {
                    "layer": f"conv {len(layers) + 1}: {shape[-1]} -> {block.out_channels}, "
                    f"k={block.kernel_size[0]}, s={block.stride[0]}",
                    "in_shape": list(shape),
                    "conv": counts["conv"],
                    "dense": counts["dense"],
                    "ratio": counts["dense"] / counts["conv"],
                    "W_shape": list(W.shape),
                    "W_entries": int(W.size),
                    "W_distinct_values": n_distinct,
                    "kernel_values": math.prod(block.kernel_size)
                    * block.in_channels
                    * block.out_channels,
                    "W_holds_every_kernel_entry": bool(exact),
                    "dense_matches_W": counts["dense"] == W.size + W.shape[0],
                }
            )
        elif p is not None:
            counted += funcnn.param_count(p)
    conv_total = sum(layer["conv"] for layer in layers)
    return {
        "layers": layers,
        "conv_total": conv_total,
        "other_params": counted,
        "model_params": n_params(net),
        "counts_add_up": conv_total + counted == n_params(net),
    }


def sharing_holds(table: dict) -> bool:
    return table["counts_add_up"] and all(
        layer["W_distinct_values"] == layer["kernel_values"]
        and layer["W_holds_every_kernel_entry"]
        and layer["dense_matches_W"]
        and layer["ratio"] >= DENSE_RATIO
        for layer in table["layers"]
    )


# -- (c) shuffled positions ----------------------------------------------------------------------


def shuffle_models() -> dict:
    return {
        "cnn": funcnn.cnn(40, 10, channels=(16, 32), strides=(2, 2), kernel_size=5),
        "mlp": funcnn.mlp([40, 100, 100, 10], "relu"),
    }


def pooled_std(a, b) -> float:
    """``sqrt((s_a^2 + s_b^2) / 2)`` of two equally sized sets of runs (sample stds)."""
    return float(np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2))


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.epochs, args.n_seeds = min(args.epochs, 15), min(args.n_seeds, 3)
    key = jax.random.key(args.seed)
    k_mat, k_perm, k_seeds = (jax.random.fold_in(key, i) for i in range(3))
    with Timer() as t:
        with jax.enable_x64(True):  # one draw of float64 normals, sliced per setting
            draws = np.asarray(jax.random.normal(k_mat, (len(SETTINGS), 512), jnp.float64))
        cases = {
            name: matrix_case(block, kind, draws[i])
            for i, (name, (block, kind)) in enumerate(SETTINGS.items())
        }
        nets = {
            "funcnn CNN (recipe)": MODELS["cnn"].build((40,), 10, RECIPES["cnn"].model),
            "ConvBase (paper)": funcnn.mnist1d_convbase(),
        }
        sharing = {name: sharing_table(net) for name, net in nets.items()}

        data = load("mnist1d")
        perm = position_permutation(k_perm)
        orders = {"ordered": data, "shuffled": shuffle_positions(data, perm)}
        seeds = run_seeds(k_seeds, args.n_seeds)
        shuffle = {}
        for name, model in shuffle_models().items():
            shuffle[name] = {"params": n_params(model)}
            for order, d in orders.items():
                res = fit_seeds(
                    model,
                    d,
                    seeds,
                    optimizer="adam",
                    lr=args.lr,
                    epochs=args.epochs,
                    batch_size=100,
                    eval_train=False,
                    progress=False,
                    grad="manual",
                )
                shuffle[name][order] = np.asarray(res.final["test_accuracy"]).tolist()

    matrix_err = max(c["max_abs_error"] for c in cases.values())
    flipped_err = min(c["max_abs_error_flipped_kernel"] for c in cases.values())
    matrices_hold = matrix_err <= MATRIX_TOL and all(c["structure_holds"] for c in cases.values())
    sharing_ok = all(sharing_holds(s) for s in sharing.values())
    for s in shuffle.values():
        o, sh = np.asarray(s["ordered"]), np.asarray(s["shuffled"])
        s.update(
            ordered_mean=float(o.mean()),
            shuffled_mean=float(sh.mean()),
            drop=float(o.mean() - sh.mean()),
            pooled_std=pooled_std(o, sh),
        )
    cnn_drop = CNN_DROP["quick" if args.quick else "full"]
    mlp_s = shuffle["mlp"]
    shuffle_holds = (
        shuffle["cnn"]["drop"] >= cnn_drop and abs(mlp_s["drop"]) <= MLP_STDS * mlp_s["pooled_std"]
    )
    held = matrices_hold and sharing_ok and shuffle_holds

    plots = draw(args, cases, sharing, shuffle, perm)
    ratios = [layer["ratio"] for s in sharing.values() for layer in s["layers"]]
    headline = (
        f"conv vs W x + b max err {matrix_err:.1e} (flipped kernel >= {flipped_err:.2f}), "
        f"structure {sum(c['structure_holds'] for c in cases.values())}/{len(cases)}; "
        f"dense/conv params {min(ratios):.0f}x-{max(ratios):.0f}x, distinct values of W = "
        f"kernel size: {sharing_ok}; shuffled: CNN {shuffle['cnn']['ordered_mean']:.1%} -> "
        f"{shuffle['cnn']['shuffled_mean']:.1%}, MLP {mlp_s['ordered_mean']:.1%} -> "
        f"{mlp_s['shuffled_mean']:.1%} (|diff| {abs(mlp_s['drop']):.1%}, seed std "
        f"{mlp_s['pooled_std']:.1%}; {len(seeds)} seeds)"
    )
    numbers = {
        "matrices": {n: {k: v for k, v in c.items() if k != "W"} for n, c in cases.items()},
        "max_abs_error": matrix_err,
        "min_flipped_kernel_error": flipped_err,
        "sharing": sharing,
        "shuffle": shuffle,
        "permutation": perm.tolist(),
        "seeds": seeds,
        "thresholds": {
            "matrix_tol": MATRIX_TOL,
            "dense_ratio": DENSE_RATIO,
            "cnn_drop": cnn_drop,
            "mlp_stds": MLP_STDS,
        },
    }
    return finish(
        NAME,
        args,
        claim=CLAIM,
        held=held,
        headline=headline,
        numbers=numbers,
        plots=plots,
        wall_time_s=t.seconds,
    )


def draw(args, cases, sharing, shuffle, perm) -> list[str]:
    plt = pyplot()
    shown = [
        "circular k=3",
        "zeros k=3 ('same')",
        "circular k=3 stride 2",
        "circular k=3, 2 -> 3 channels",
    ]
    fig, axes = plt.subplots(1, len(shown), figsize=(4 * len(shown), 4.2))
    for ax, name in zip(axes, shown):
        W = cases[name]["W"]
        lim = np.abs(W).max()
        ax.imshow(W, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        kind = "circulant" if cases[name]["is_circulant"] else cases[name]["structure"]
        ax.set_title(f"{name}\nW {W.shape[0]}x{W.shape[1]}: {kind}", fontsize=9)
        ax.set(xlabel="input (position, channel)", ylabel="output (position, channel)")
    fig.suptitle(
        "Explicit matrices of 1-D convolutions (sequence length 16): circular padding wraps "
        "the band around (circulant), zeros cut it (Toeplitz)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    plots = [save_figure(fig, args.out / "conv_matrices.png")]

    fig, axes = plt.subplots(1, len(sharing), figsize=(6.5 * len(sharing), 4.2))
    for ax, (name, table) in zip(np.atleast_1d(axes), sharing.items()):
        layers = table["layers"]
        idx = np.arange(len(layers))
        ax.bar(idx - 0.2, [la["conv"] for la in layers], 0.4, label="convolution")
        ax.bar(idx + 0.2, [la["dense"] for la in layers], 0.4, label="dense layer with the same W")
        for i, la in enumerate(layers):
            ax.text(i + 0.2, la["dense"], f"{la['ratio']:.0f}x", ha="center", va="bottom")
        ax.set_yscale("log")
        ax.set_ylim(top=30 * max(la["dense"] for la in layers))  # room for the legend
        ax.set_xticks(idx, [la["layer"] for la in layers], rotation=15, ha="right", fontsize=8)
        ax.set(ylabel="parameters", title=f"{name}: weight sharing, layer by layer")
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    plots.append(save_figure(fig, args.out / "param_counts.png"))

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, s in enumerate(shuffle.values()):
        for j, order in enumerate(("ordered", "shuffled")):
            acc = np.asarray(s[order])
            x = 3 * i + j
            ax.bar(x, acc.mean(), color=f"C{j}", alpha=0.6, label=order if i == 0 else None)
            ax.scatter(np.full(acc.shape, x), acc, color="k", s=10, zorder=3)
            ax.text(x, acc.mean() + 0.02, f"{acc.mean():.1%}", ha="center")
    ax.set_xticks([0.5, 3.5], [f"{n.upper()} ({s['params']:,} params)" for n, s in shuffle.items()])
    ax.set(
        ylabel="MNIST-1D test accuracy",
        ylim=(0, 1),
        title=f"One fixed permutation of the 40 positions ({len(next(iter(shuffle.values()))['ordered'])} seeds)",
    )
    ax.legend(loc="upper right")
    plots.append(save_figure(fig, args.out / "shuffled_positions.png"))
    return plots


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
