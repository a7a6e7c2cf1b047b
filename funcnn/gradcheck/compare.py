"""Comparing two gradient pytrees leaf by leaf: the relative error with a floor.

Per leaf, manual gradient ``a`` against a reference ``b``:

* ``max_abs_err = max_i |a_i - b_i|``.
* ``max_rel_err = max_i |a_i - b_i| / max(|a_i|, |b_i|, floor)`` with
  ``floor = max(atol, floor_frac * max_j max(|a_j|, |b_j|))``.

Far from zero this is the usual relative error |a - b| / max(|a|, |b|) (CS231n's). An entry
near zero — smaller than ``floor_frac`` (default 1e-2) times the largest entry of its leaf — is
instead compared on the leaf's own scale, so the rounding noise of an entry that cancels to ~0
does not read as a 100% error, while a wrong entry of any size that matters still does. A leaf
that is exactly zero on both sides has error 0; a leaf that is zero on one side only has error
1. A sign flip gives 2, a missing factor 1/n gives 1 - 1/n.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np

#: Default tolerances (rtol vs autodiff, fd_rtol vs finite differences) by gradient dtype.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-10, 1e-6),
    "float32": (1e-4, 1e-4),
}
DEFAULT_FLOOR_FRAC = 1e-2


def relative_error(a, b, floor: float) -> np.ndarray:
    """Elementwise ``|a - b| / max(|a|, |b|, floor)`` in float64 (see the module docstring)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    denom = np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)
    denom = np.where(denom > 0, denom, 1.0)  # 0/0 only where a = b = 0 and floor = 0
    return np.abs(a - b) / denom


def leaf_floor(a, b, floor_frac: float = DEFAULT_FLOOR_FRAC, atol: float = 0.0) -> float:
    """``max(atol, floor_frac * max(|a|, |b|))``: the scale below which entries count as ~0."""
    scale = max(
        float(np.max(np.abs(a))) if np.size(a) else 0.0,
        float(np.max(np.abs(b))) if np.size(b) else 0.0,
    )
    return max(float(atol), floor_frac * scale)


@dataclasses.dataclass(frozen=True)
class LeafComparison:
    """One leaf of :func:`compare_grads`."""

    path: str  # jax.tree_util.keystr of the leaf, e.g. "[0]['w']"
    shape: tuple  # the manual leaf's shape (the reference's if missing in the manual tree)
    max_abs_err: float
    max_rel_err: float
    worst_index: tuple | None  # index of the largest relative error
    passed: bool
    note: str = ""  # "structure mismatch: ..." when the trees disagree
    scale: float = math.nan  # max |b|: the size of the reference gradient of this leaf


def leaf_paths(tree) -> dict[str, Any]:
    """``{jax.tree_util.keystr(path): leaf}`` in flattening order."""
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    return {jax.tree_util.keystr(path): leaf for path, leaf in flat}


def compare_grads(
    manual,
    reference,
    *,
    rtol: float,
    floor_frac: float = DEFAULT_FLOOR_FRAC,
    atol: float = 0.0,
) -> list[LeafComparison]:
    """Compare two gradient pytrees leaf by leaf.

    Args:
        manual: the gradients under test.
        reference: the trusted gradients (``jax.grad``, finite differences).
        rtol: a leaf passes when its max relative error is at most this.
        floor_frac, atol: define the floor of the relative error (module docstring).

    Returns:
        One :class:`LeafComparison` per leaf path found in either tree, in the manual tree's
        order, then the paths only the reference has. Missing leaves, extra leaves and shape
        differences are rows with ``passed=False`` and a note; nothing raises.
    """
    m_flat, r_flat = leaf_paths(manual), leaf_paths(reference)
    rows = []
    for path, a in m_flat.items():
        if path not in r_flat:
            rows.append(
                LeafComparison(
                    path,
                    tuple(np.shape(a)),
                    math.nan,
                    math.nan,
                    None,
                    False,
                    "structure mismatch: leaf missing in the reference",
                )
            )
            continue
        b = r_flat[path]
        if np.shape(a) != np.shape(b):
            rows.append(
                LeafComparison(
                    path,
                    tuple(np.shape(a)),
                    math.nan,
                    math.nan,
                    None,
                    False,
                    f"structure mismatch: shape {tuple(np.shape(a))} vs reference "
                    f"{tuple(np.shape(b))}",
                )
            )
            continue
        rows.append(_compare_leaf(path, np.asarray(a), np.asarray(b), rtol, floor_frac, atol))
    for path, b in r_flat.items():
        if path not in m_flat:
            rows.append(
                LeafComparison(
                    path,
                    tuple(np.shape(b)),
                    math.nan,
                    math.nan,
                    None,
                    False,
                    "structure mismatch: leaf missing in the manual gradients",
                )
            )
    return rows


def _compare_leaf(path, a, b, rtol, floor_frac, atol) -> LeafComparison:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if a.size == 0:
        return LeafComparison(path, a.shape, 0.0, 0.0, None, True, "empty leaf")
    if not (np.all(np.isfinite(a64)) and np.all(np.isfinite(b64))):
        return LeafComparison(
            path, a.shape, math.nan, math.nan, None, False, "non-finite values (NaN or inf)"
        )
    rel = relative_error(a64, b64, leaf_floor(a64, b64, floor_frac, atol))
    worst = int(np.argmax(rel))
    max_rel = float(rel.reshape(-1)[worst])
    return LeafComparison(
        path,
        tuple(a.shape),
        float(np.max(np.abs(a64 - b64))),
        max_rel,
        tuple(int(i) for i in np.unravel_index(worst, a.shape)),
        max_rel <= rtol,
        scale=float(np.max(np.abs(b64))),
    )
