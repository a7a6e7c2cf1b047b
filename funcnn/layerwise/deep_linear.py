"""Deep linear networks: exact least-squares block solves (block coordinate descent) and the
non-convexity of their loss (see :mod:`funcnn.layerwise`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from funcnn import checks
from funcnn.layers import append_ones
from funcnn.layerwise.steps import Array, block_indices
from funcnn.models import MLP

# --- deep linear networks: exact block solves ------------------------------------------------


def check_deep_linear(model) -> MLP:
    """``model``, or an error unless it is a dense network with identity activations only."""
    if not isinstance(model, MLP):
        raise TypeError(
            "model must be a deep linear network, funcnn.deep_linear(sizes); got "
            f"{type(model).__name__}."
        )
    if any(a != "identity" for a in model.layer_activations) or model.uses_dropout:
        raise ValueError(
            "model must be a deep linear network (identity activations, no dropout: "
            f"funcnn.deep_linear(sizes)); got a {model.kind} with activations "
            f"{model.layer_activations} and dropout {model.dropout}. With a nonlinear activation "
            "a block's problem is not least squares."
        )
    return model


def _check_data(model: MLP, params, x, y) -> None:
    model.check_params(params)
    model.check_input(x)
    checks.check_rank(y, 2, "y", f"(batch, {model.sizes[-1]})")
    checks.check_same_batch(x, y, "x", "y")
    if y.shape[1] != model.sizes[-1]:
        raise ValueError(
            f"y must have shape (batch, n_L) = (batch, {model.sizes[-1]}); got {y.shape}."
        )


def end_to_end(model: MLP, params) -> tuple[Array, Array]:
    """A deep linear network's affine map ``f(x) = x @ P + c``: ``(P (n_0, n_L), c (n_L,))``.

    ``P = w_1 w_2 ... w_L`` in our layout (the notes' ``W_L ... W_1`` transposed).
    """
    check_deep_linear(model)
    model.check_params(params)
    p, c = params[0]["w"], params[0]["b"]
    for layer in params[1:]:
        p, c = p @ layer["w"], c @ layer["w"] + layer["b"]
    return p, c


def solve_block(model: MLP, params, j: int, x: Array, y: Array, *, rcond=None):
    """Exact BCD step: ``params[j]`` replaced by its least-squares optimum, the others fixed.

    With ``A = [z_{j-1}, 1]`` (the block's input with a column of ones, ``(N, n_{j-1} + 1)``),
    ``B`` the product of the later layers' weights (``(n_j, n_L)``) and ``c`` the later
    biases' contribution, the output is ``A W B + c`` with ``W = [w_j; b_j]``: linear in the
    block. Its squared loss ``||A W B + c - y||_F^2`` is minimized where the normal equations
    ``A^T A W B B^T = A^T (y - c) B^T`` hold; the minimum-norm solution is
    ``W = A^+ (y - c) B^+``, computed as two least-squares solves (``jnp.linalg.lstsq``:
    ``U = A^+ (y - c)``, then ``W = U B^+``). Singular values below ``rcond`` times the
    largest are treated as zero, so a rank-deficient ``A`` (a narrower layer before the block,
    fewer examples than inputs) or ``B`` (a narrower layer after it) still gives the
    minimum-norm minimizer.

    Args:
        model: a deep linear network (:func:`funcnn.deep_linear`).
        params: its parameters ``[{"w", "b"}]``.
        j: the block, an index into ``params`` (0 is the lecture's ``W_1``); static.
        x: ``(N, n_0)``; y: ``(N, n_L)``.
        rcond: cut-off of ``jnp.linalg.lstsq`` (default: machine epsilon times the larger
            dimension).

    Returns:
        the new params (the same container type); only ``params[j]`` differs.
    """
    check_deep_linear(model)
    _check_data(model, params, x, y)
    (j,) = block_indices(j, len(params))
    z = x  # z_{j-1}: the block's input, (N, n_{j-1})
    for layer in params[:j]:
        z = z @ layer["w"] + layer["b"][None, :]
    a = append_ones(z)  # A = [z_{j-1}, 1], (N, n_{j-1} + 1)
    n_j = model.sizes[j + 1]
    b, c = jnp.eye(n_j, dtype=x.dtype), jnp.zeros((n_j,), x.dtype)  # B (n_j, n_L), c (n_L,)
    for layer in params[j + 1 :]:
        b, c = b @ layer["w"], c @ layer["w"] + layer["b"]
    target = y - c[None, :]  # (N, n_L): what A W B must fit
    u = jnp.linalg.lstsq(a, target, rcond=rcond)[0]  # U = A^+ (y - c), (n_{j-1} + 1, n_L)
    w = jnp.linalg.lstsq(b.T, u.T, rcond=rcond)[0].T  # W = U B^+, (n_{j-1} + 1, n_j)
    new = list(params)
    new[j] = {"w": w[:-1], "b": w[-1]}  # the bias is the row that meets the constant 1
    return type(params)(new)


def exact_bcd_sweep(model: MLP, params, x: Array, y: Array, *, order=None, rcond=None):
    """One sweep of exact BCD: :func:`solve_block` on every block in turn (default input
    layer first). The loss never increases from one block to the next."""
    order = block_indices(range(len(params)) if order is None else order, len(params))
    for j in order:
        params = solve_block(model, params, j, x, y, rcond=rcond)
    return params


# --- non-convexity: one map, many factorizations --------------------------------------------


def least_squares_map(x: Array, y: Array, *, rcond=None) -> tuple[Array, Array]:
    """The affine least-squares fit ``(P (n_0, n_L), c (n_L,))`` minimizing
    ``sum_i ||x_i P + c - y_i||^2`` (minimum norm when ``[x, 1]`` is rank deficient).

    Its loss is a lower bound for every network whose map is affine: a deep linear network
    whose map equals it is a global minimizer.
    """
    checks.check_rank(x, 2, "x", "(N, n_0)")
    checks.check_rank(y, 2, "y", "(N, n_L)")
    checks.check_same_batch(x, y, "x", "y")
    w = jnp.linalg.lstsq(append_ones(x), y, rcond=rcond)[0]  # (n_0 + 1, n_L)
    return w[:-1], w[-1]


def factorize(model: MLP, p: Array, c: Array) -> list[dict[str, Array]]:
    """Parameters of ``model`` whose map is ``x @ p + c``: a balanced factorization.

    With the thin SVD ``p = U diag(s) V^T`` (``m = min(n_0, n_L)`` singular values) every
    layer gets ``diag(s)^(1/L)``: ``w_1 = U diag(s)^(1/L)``, ``w_j = diag(s)^(1/L)`` in
    between, ``w_L = diag(s)^(1/L) V^T``, each padded with zeros to its layer's shape; the
    biases are zero but ``b_L = c``. Every hidden width must be at least ``m``.
    """
    check_deep_linear(model)
    sizes = model.sizes
    n_0, n_L = sizes[0], sizes[-1]
    checks.check_rank(p, 2, "p", f"({n_0}, {n_L})")
    if tuple(p.shape) != (n_0, n_L) or tuple(np.shape(c)) != (n_L,):
        raise ValueError(
            f"p must have shape (n_0, n_L) = {(n_0, n_L)} and c ({n_L},); got {p.shape} and "
            f"{np.shape(c)}."
        )
    m, L = min(n_0, n_L), len(sizes) - 1
    if min(sizes[1:-1], default=m) < m:
        raise ValueError(
            f"factorize needs every hidden width >= min(n_0, n_L) = {m}; got sizes {sizes}. "
            "A narrower layer caps the rank of the network's map."
        )
    if L == 1:
        return [{"w": p, "b": c}]
    u, s, vt = jnp.linalg.svd(p, full_matrices=False)  # (n_0, m), (m,), (m, n_L)
    root = s ** (1.0 / L)  # diag(s)^(1/L)

    def pad(a, shape):
        return jnp.zeros(shape, p.dtype).at[: a.shape[0], : a.shape[1]].set(a)

    ws = [pad(u * root[None, :], (n_0, sizes[1]))]
    ws += [pad(jnp.diag(root), (sizes[i], sizes[i + 1])) for i in range(1, L - 1)]
    ws += [pad(root[:, None] * vt, (sizes[-2], n_L))]
    bs = [jnp.zeros((n,), p.dtype) for n in sizes[1:-1]] + [c.astype(p.dtype)]
    return [{"w": w, "b": b} for w, b in zip(ws, bs)]


def equivalent_params(model: MLP, params, j: int, s=-1.0):
    """The same map through different layers: layer ``j``'s output ``z_j -> z_j S``.

    ``w_j -> w_j S``, ``b_j -> b_j S``, ``w_{j+1} -> S^-1 w_{j+1}`` (in the notes' column
    layout ``W_j -> S^T W_j``, ``W_{j+1} -> W_{j+1} S^-T``): the product is unchanged, so the
    loss is too, for every loss and every input.

    Args:
        model: a deep linear network with at least two layers.
        params: its parameters.
        j: the hidden layer, ``0 <= j < L - 1`` (``params[j]`` and ``params[j + 1]`` change).
        s: ``S``: a nonzero number (``-1``: flip the signs of the layer's units), a vector of
            ``n_j`` nonzero numbers (a diagonal rescaling), or an invertible ``(n_j, n_j)``
            matrix (condition number below ``0.01 / eps_float32``, about 8e4). A concrete
            ``s`` that is not invertible raises ``ValueError``.
    """
    check_deep_linear(model)
    model.check_params(params)
    n_layers = len(params)
    j = checks.check_int(j, "j")
    if not 0 <= j < n_layers - 1:
        raise ValueError(
            f"j must index a hidden layer, 0 <= j < L - 1 = {n_layers - 1}; got {j} "
            f"(the network has {n_layers} layers)."
        )
    n_j = model.sizes[j + 1]
    shape = np.shape(s)
    if shape not in ((), (n_j,), (n_j, n_j)):
        raise ValueError(
            f"s must be a number, a vector ({n_j},) or a matrix ({n_j}, {n_j}) for layer j = "
            f"{j} of width {n_j}; got shape {shape}."
        )
    if checks.is_concrete(s):
        s_np = np.asarray(s, np.float64)
        singular = (
            not np.all(np.isfinite(s_np))
            or (len(shape) < 2 and np.any(s_np == 0))
            or (len(shape) == 2 and np.linalg.cond(s_np) * np.finfo(np.float32).eps > 1e-2)
        )
        if singular:
            raise ValueError(
                f"s must be invertible (finite, nonzero, well conditioned); got {s_np!r:.80}."
            )
    dtype = params[j]["w"].dtype
    s = jnp.asarray(s, dtype)
    if len(shape) == 0:  # S = s I
        s_mat, s_inv = s * jnp.eye(n_j, dtype=dtype), jnp.eye(n_j, dtype=dtype) / s
    elif len(shape) == 1:  # S = diag(s)
        s_mat, s_inv = jnp.diag(s), jnp.diag(1.0 / s)
    else:
        s_mat, s_inv = s, jnp.linalg.inv(s)
    new = list(params)
    new[j] = {"w": params[j]["w"] @ s_mat, "b": params[j]["b"] @ s_mat}  # z_j S
    new[j + 1] = {"w": s_inv @ params[j + 1]["w"], "b": params[j + 1]["b"]}  # S^-1 w_{j+1}
    return type(params)(new)


def minimizer_pair(model: MLP, x: Array, y: Array, *, j: int = 0, s=-1.0, rcond=None):
    """Two global minimizers of a deep linear network's squared loss on ``(x, y)``.

    The first is :func:`factorize` of the least-squares map (its loss is the least-squares
    optimum, which no parameters can beat), the second its :func:`equivalent_params` through
    layer ``j`` with ``S = s``. A convex loss would be minimal on the whole segment between
    them; with ``s = -1`` the midpoint has ``w_j = 0, b_j = 0`` and ``w_{j+1} = 0``, so its
    map is the constant ``c`` of the least-squares fit and its loss that of predicting ``c``
    for every input.

    Returns:
        ``(params_a, params_b)``.
    """
    check_deep_linear(model)
    p, c = least_squares_map(x, y, rcond=rcond)
    a = factorize(model, p, c)
    return a, equivalent_params(model, a, j, s)


def interpolate(params_a, params_b, t):
    """``(1 - t) params_a + t params_b``, leaf by leaf (``t = 1/2``: the midpoint)."""
    if jax.tree.structure(params_a) != jax.tree.structure(params_b):
        raise ValueError("params_a and params_b must have the same structure.")
    return jax.tree.map(lambda a, b: (1 - t) * a + t * b, params_a, params_b)
