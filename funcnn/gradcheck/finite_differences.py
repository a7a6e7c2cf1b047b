"""Central finite differences in float64, on every coordinate of small leaves and a sample
of large ones.

``(L(theta + h e_i) - L(theta - h e_i)) / 2h`` with ``h = fd_eps * max(1, |theta_i|)``, in
float64 whatever the dtype of the gradients under test; their relative-error floor is also at
least ``noise / fd_rtol``, with ``noise = 64 eps_64 |L| / fd_eps`` their own rounding level
(:func:`fd_noise`): a disagreement smaller than the noise passes, since the differences
cannot resolve it. They run on every coordinate of small leaves and on ``max_fd_coords``
coordinates sampled without replacement (from an explicit key) on large ones. They are only
meaningful where the loss is smooth within ``h`` of ``theta``: keep ReLU/step
pre-activations away from 0 (:func:`funcnn.gradcheck.move_off_kinks`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from funcnn.gradcheck.compare import (
    DEFAULT_FLOOR_FRAC,
    LeafComparison,
    leaf_floor,
    leaf_paths,
    relative_error,
)


def _to_float64(tree):
    return jax.tree_util.tree_map(
        lambda x: (
            jnp.asarray(x, jnp.float64)
            if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)
            else x
        ),
        tree,
    )


def fd_plan(params, max_coords: int, key) -> list[tuple[str, np.ndarray, int]]:
    """``[(leaf path, sampled flat indices, offset of the leaf in ravel_pytree order)]``."""
    if isinstance(max_coords, bool) or not isinstance(max_coords, int) or max_coords < 1:
        raise ValueError(f"max_coords must be a positive integer; got {max_coords!r}.")
    key = jax.random.key(0) if key is None else key
    flat, _ = jax.tree_util.tree_flatten_with_path(params)
    plan, offset = [], 0
    for i, (path, leaf) in enumerate(flat):
        n = int(np.size(leaf))
        if n <= max_coords:
            idx = np.arange(n)
        else:
            sub = jax.random.fold_in(key, i)
            idx = np.sort(np.asarray(jax.random.choice(sub, n, (max_coords,), replace=False)))
        plan.append((jax.tree_util.keystr(path), idx, offset))
        offset += n
    return plan


FD_NOISE_ULPS = 64


def fd_noise(loss_value: float, eps: float) -> float:
    """The rounding noise of a float64 central difference: ``64 eps_64 |L| / h`` with the
    smallest step ``h = eps``. Differences below it are indistinguishable from 0."""
    return FD_NOISE_ULPS * float(np.finfo(np.float64).eps) * abs(float(loss_value)) / eps


def fd_values(loss: Callable, params, batch, global_idx, eps: float):
    """Central differences at the flat coordinates ``global_idx`` and the loss at the centre
    (traceable; float64)."""
    params64 = _to_float64(params)
    batch64 = _to_float64(batch)
    theta, unravel = ravel_pytree(params64)
    centre = loss(params64, *batch64)

    def fd_one(i):
        h = eps * jnp.maximum(1.0, jnp.abs(theta[i]))
        plus = loss(unravel(theta.at[i].add(h)), *batch64)
        minus = loss(unravel(theta.at[i].add(-h)), *batch64)
        return (plus - minus) / (2.0 * h)

    return jax.vmap(fd_one)(global_idx), centre


def split_fd(plan, values) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    values = np.asarray(values, np.float64)
    out, start = {}, 0
    for path, idx, _ in plan:
        out[path] = (idx, values[start : start + idx.size])
        start += idx.size
    return out


def plan_indices(plan) -> np.ndarray:
    return np.concatenate([idx + off for _, idx, off in plan] + [np.zeros(0, np.int64)])


def finite_difference_grads(
    loss: Callable,
    params,
    *batch,
    eps: float = 1e-6,
    max_coords: int = 32,
    key=None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Central differences of ``loss(params, *batch)`` in float64 on sampled coordinates.

    Args:
        loss: scalar function of ``(params, *batch)``.
        params: pytree of float arrays (cast to float64, as are float arrays in ``batch``).
        eps: relative step: ``h_i = eps * max(1, |theta_i|)``.
        max_coords: leaves with more entries are sampled (without replacement) this many times.
        key: ``jax.random.key`` for the sampling (default ``key(0)``).

    Returns:
        ``({leaf path: (flat indices (k,), dL/dtheta at them (k,))}, noise)``, ``noise``
        being :func:`fd_noise` at this loss value: the differences' own rounding level.
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive; got {eps!r}.")
    plan = fd_plan(params, max_coords, key)
    idx = plan_indices(plan)
    if idx.size == 0:
        return {path: (i, np.zeros(0)) for path, i, _ in plan}, 0.0
    with jax.enable_x64(True):
        fn = jax.jit(lambda p, b, i: fd_values(loss, p, b, i, eps))
        values, centre = fn(params, batch, jnp.asarray(idx))
    return split_fd(plan, values), fd_noise(centre, eps)


def compare_with_finite_differences(
    manual,
    fd: dict,
    *,
    rtol: float,
    floor_frac: float = DEFAULT_FLOOR_FRAC,
    atol: float = 0.0,
    noise: float = 0.0,
) -> dict[str, LeafComparison]:
    """Compare a manual gradient tree with :func:`finite_difference_grads` at the sampled
    coordinates. The floor uses the whole manual leaf's scale and is at least ``noise / rtol``,
    so that a difference within the differences' own rounding level (:func:`fd_noise`)
    passes."""
    out = {}
    for path, a in leaf_paths(manual).items():
        if path not in fd:
            continue
        idx, values = fd[path]
        a = np.asarray(a, np.float64)
        if idx.size and idx.max() >= a.size:
            out[path] = LeafComparison(
                path,
                a.shape,
                math.nan,
                math.nan,
                None,
                False,
                "structure mismatch: fewer entries than the loss's params",
            )
            continue
        sampled = a.reshape(-1)[idx]
        # Differences within the noise pass: |a - b| <= rtol * (noise / rtol).
        floor = max(leaf_floor(a, values, floor_frac, atol), noise / rtol)
        if idx.size == 0:
            out[path] = LeafComparison(path, a.shape, 0.0, 0.0, None, True)
            continue
        rel = relative_error(sampled, values, floor)
        worst = int(np.argmax(rel))
        out[path] = LeafComparison(
            path,
            a.shape,
            float(np.max(np.abs(sampled - values))),
            float(rel[worst]),
            tuple(int(i) for i in np.unravel_index(int(idx[worst]), a.shape)),
            bool(rel[worst] <= rtol),
        )
    return out
