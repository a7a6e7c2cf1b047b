"""The check that two contenders of a comparison do the same work before they are timed.

Before two contenders are compared they are run from the same initial parameters on the same
batch, and their losses and updated parameters are asserted equal to float tolerance
(:func:`assert_same_work`): a benchmark never compares different work.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import numpy as np

SAME_WORK_TOL = {"float32": (2e-4, 2e-5), "bfloat16": (5e-2, 2e-2), "float64": (1e-9, 1e-12)}
"""Relative and absolute tolerances of :func:`assert_same_work`, per dtype of the computation."""


class WorkMismatchError(AssertionError):
    """Two contenders of a comparison did not compute the same values."""


@dataclasses.dataclass(frozen=True)
class SameWork:
    """What :func:`assert_same_work` saw: the largest scaled error among the elements within
    tolerance (< 1), and how many of ``elements`` were tolerated outliers."""

    max_rel_err: float
    outliers: int
    elements: int


def to_numpy(x) -> np.ndarray:
    """A float64 NumPy copy of an array of any contender (JAX, NumPy, PyTorch on any device)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    return np.asarray(np.asarray(x, dtype=np.float64))


def assert_same_work(
    reference: Any,
    candidate: Any,
    *,
    dtype: str = "float32",
    what: str = "values",
    rtol: float | None = None,
    atol: float | None = None,
    outlier_fraction: float = 0.0,
    outlier_atol: float = 0.0,
) -> SameWork:
    """Assert two contenders computed the same values (pytrees of arrays, same structure).

    Every element must satisfy ``|a - b| <= atol + rtol |a|``, except that up to
    ``outlier_fraction`` of all elements may instead be within ``outlier_atol``. Parameters
    after Adam steps need that allowance: Adam divides each coordinate's step by the scale of
    its own gradient, so where a gradient is as small as float rounding (a unit that is dead on
    almost the whole batch), two correct implementations that sum in different orders can step
    that coordinate by about ``lr`` in opposite directions. A different workload (another
    learning rate, loss, batch or initialization) moves every element, not a few.

    Args:
        reference: e.g. ``{"losses": [...], "params": funcnn-layout params}`` of the baseline.
        candidate: the same structure from the contender, converted to the baseline's layout.
        dtype: dtype of the computation; picks the default tolerance in :data:`SAME_WORK_TOL`.
        what: a name for the error message ("haiku vs funcnn").
        rtol, atol: override the dtype's tolerance.
        outlier_fraction: the share of elements (over the whole tree) allowed past
            ``atol + rtol |a|``.
        outlier_atol: the bound those outliers must still meet.

    Returns:
        A :class:`SameWork` summary.

    Raises:
        WorkMismatchError: structures, shapes or values differ.
    """
    import jax

    d_rtol, d_atol = SAME_WORK_TOL.get(dtype, SAME_WORK_TOL["float32"])
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    ref_leaves = jax.tree_util.tree_flatten_with_path(reference)[0]
    cand_leaves = jax.tree_util.tree_flatten_with_path(candidate)[0]
    if len(ref_leaves) != len(cand_leaves):
        raise WorkMismatchError(
            f"{what}: different structures ({len(ref_leaves)} vs {len(cand_leaves)} leaves)."
        )
    worst, outliers, total = 0.0, 0, 0
    for (path, a), (_, b) in zip(ref_leaves, cand_leaves):
        a, b = to_numpy(a), to_numpy(b)
        where = f"{what}: {jax.tree_util.keystr(path)}"
        leaf_worst, leaf_outliers = compare_leaf(
            a,
            b,
            where,
            rtol=rtol,
            atol=atol,
            outlier_atol=outlier_atol,
            allow_outliers=outlier_fraction > 0.0,
        )
        worst, outliers, total = max(worst, leaf_worst), outliers + leaf_outliers, total + a.size
    if outliers > outlier_fraction * total:
        raise WorkMismatchError(
            f"{what}: {outliers} of {total} elements differ beyond rtol={rtol:g}, atol={atol:g} "
            f"(at most {outlier_fraction:g} of them may). The contenders do not do the same work."
        )
    return SameWork(worst, outliers, total)


def compare_leaf(
    a: np.ndarray,
    b: np.ndarray,
    where: str,
    *,
    rtol: float,
    atol: float,
    outlier_atol: float,
    allow_outliers: bool,
) -> tuple[float, int]:
    """Compare one leaf of :func:`assert_same_work`: returns the largest scaled error among
    the elements within tolerance and the number of elements beyond it (tolerated outliers).

    Raises :class:`WorkMismatchError` where the shapes differ, a value is not finite, an
    element is beyond tolerance without ``allow_outliers``, or an outlier beyond
    ``outlier_atol``.
    """
    if a.shape != b.shape:
        raise WorkMismatchError(f"{where} has shape {b.shape}; expected {a.shape}.")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise WorkMismatchError(f"{where} is not finite.")
    diff = np.abs(a - b)
    err = diff / (atol + rtol * np.abs(a))
    bad = err > 1.0
    if np.any(bad):
        if not allow_outliers:
            fail(where, a, b, err, f"differs beyond rtol={rtol:g}, atol={atol:g}")
        if np.any(diff[bad] > outlier_atol):
            fail(where, a, b, diff, f"differs beyond {outlier_atol:g}")
    worst = float(np.max(err[~bad])) if np.any(~bad) else 0.0
    return worst, int(np.sum(bad))


def fail(where: str, a: np.ndarray, b: np.ndarray, err: np.ndarray, why: str):
    """Raise :class:`WorkMismatchError` naming the worst element of ``err``."""
    i = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    raise WorkMismatchError(
        f"{where} {why}: at index {tuple(int(j) for j in i)} got {b[i]!r}, "
        f"expected {a[i]!r} (max |diff| {float(np.max(np.abs(a - b))):.3g}). The "
        "contenders do not do the same work."
    )
