"""Check hand-written gradients against ``jax.grad`` and central finite differences.

Point it at your own gradient function::

    report = funcnn.gradcheck.check_grads(my_grad, loss, params, x, y)
    print(report)            # one row per leaf of params
    assert report.passed

Error measures (per leaf, manual gradient ``a`` against a reference ``b``):

* ``max_abs_err = max_i |a_i - b_i|``.
* ``max_rel_err = max_i |a_i - b_i| / max(|a_i|, |b_i|, floor)`` with
  ``floor = max(atol, floor_frac * max_j max(|a_j|, |b_j|))``.

  Far from zero this is the usual relative error |a - b| / max(|a|, |b|) (CS231n's). An entry
  near zero — smaller than ``floor_frac`` (default 1e-2) times the largest entry of its leaf —
  is instead compared on the leaf's own scale, so the rounding noise of an entry that cancels
  to ~0 does not read as a 100% error, while a wrong entry of any size that matters still
  does. A leaf that is exactly zero on both sides has error 0; a leaf that is zero on one
  side only has error 1. A sign flip gives 2, a missing factor 1/n gives 1 - 1/n.
* A leaf passes when ``max_rel_err <= rtol`` against autodiff and ``<= fd_rtol`` against
  finite differences; a leaf present on one side only, or with different shapes, is a
  *structure mismatch*: reported in its own row and failing, never an exception.

Finite differences are central, in float64 whatever the dtype of the gradients under test:
``(L(theta + h e_i) - L(theta - h e_i)) / 2h`` with ``h = fd_eps * max(1, |theta_i|)``; their
relative-error floor is also at least ``noise / fd_rtol``, with ``noise = 64 eps_64 |L| /
fd_eps`` their own rounding level (:func:`fd_noise`): a disagreement smaller than the noise
passes, since the differences cannot resolve it. They run on
every coordinate of small leaves and on ``max_fd_coords`` coordinates sampled without
replacement (from an explicit key) on large ones. They are only meaningful where the loss is
smooth within ``h`` of ``theta``: keep ReLU/step pre-activations away from 0
(:func:`move_off_kinks` does it for funcnn's dense models).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from funcnn.activations import get_activation
from funcnn.models import MLP

#: Default tolerances (rtol vs autodiff, fd_rtol vs finite differences) by gradient dtype.
TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-10, 1e-6),
    "float32": (1e-4, 1e-4),
}
DEFAULT_FLOOR_FRAC = 1e-2

#: Activations with a kink or a step at 0, where finite differences are meaningless.
KINKED_ACTIVATIONS = ("relu", "leaky_relu", "heaviside")


# --- comparing two gradient pytrees -----------------------------------------------------------


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


def _flatten(tree) -> dict[str, Any]:
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
    m_flat, r_flat = _flatten(manual), _flatten(reference)
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


# --- finite differences ------------------------------------------------------------------------


def _to_float64(tree):
    return jax.tree_util.tree_map(
        lambda x: (
            jnp.asarray(x, jnp.float64)
            if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.floating)
            else x
        ),
        tree,
    )


def _fd_plan(params, max_coords: int, key) -> list[tuple[str, np.ndarray, int]]:
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


def _fd_values(loss: Callable, params, batch, global_idx, eps: float):
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


def _split_fd(plan, values) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    values = np.asarray(values, np.float64)
    out, start = {}, 0
    for path, idx, _ in plan:
        out[path] = (idx, values[start : start + idx.size])
        start += idx.size
    return out


def _global_indices(plan) -> np.ndarray:
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
    plan = _fd_plan(params, max_coords, key)
    idx = _global_indices(plan)
    if idx.size == 0:
        return {path: (i, np.zeros(0)) for path, i, _ in plan}, 0.0
    with jax.enable_x64(True):
        fn = jax.jit(lambda p, b, i: _fd_values(loss, p, b, i, eps))
        values, centre = fn(params, batch, jnp.asarray(idx))
    return _split_fd(plan, values), fd_noise(centre, eps)


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
    for path, a in _flatten(manual).items():
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


# --- the report ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GradcheckRow:
    """One leaf of a :class:`GradcheckReport`."""

    leaf: str
    shape: tuple
    max_abs_err: float  # vs jax.grad
    max_rel_err: float  # vs jax.grad
    max_rel_err_fd: float | None  # vs central finite differences (None: not checked)
    fd_coords: int  # how many coordinates finite differences checked
    worst_index: tuple | None  # index of the largest relative error vs jax.grad
    passed: bool
    note: str = ""
    grad_scale: float = math.nan  # max |jax.grad| over the leaf (0: a zero gradient)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        d["worst_index"] = None if self.worst_index is None else list(self.worst_index)
        d["pass"] = d.pop("passed")
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "PASS" if v else "FAIL"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.2e}"
    if isinstance(v, tuple):
        return "(" + ",".join(str(i) for i in v) + ")"
    return str(v)


def format_table(records: Sequence[dict], columns: Sequence[tuple[str, str]]) -> str:
    """A plain-text table of ``records`` with ``columns = [(key, header), ...]``."""
    cells = [[_fmt(r.get(k)) for k, _ in columns] for r in records]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, (_, h) in enumerate(columns)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths)).rstrip()
    out = [line([h for _, h in columns]), line(["-" * w for w in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out)


REPORT_COLUMNS = [
    ("leaf", "leaf"),
    ("shape", "shape"),
    ("max_abs_err", "max abs err"),
    ("max_rel_err", "max rel err (autodiff)"),
    ("max_rel_err_fd", "max rel err (fd)"),
    ("pass", "pass"),
    ("note", "note"),
]


@dataclasses.dataclass(frozen=True)
class GradcheckReport:
    """The result of :func:`check_grads`: one row per leaf; prints as a table."""

    rows: tuple[GradcheckRow, ...]
    rtol: float
    fd_rtol: float
    floor_frac: float
    dtype: str
    context: dict = dataclasses.field(default_factory=dict)  # e.g. model, activation, loss

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def failures(self) -> list[GradcheckRow]:
        return [r for r in self.rows if not r.passed]

    def to_dicts(self) -> list[dict]:
        """The rows as JSON-ready dicts, each with the report's context fields first."""
        return [{**self.context, **r.to_dict()} for r in self.rows]

    def __str__(self) -> str:
        head = ", ".join(f"{k}={v}" for k, v in self.context.items())
        title = (
            f"gradcheck {head + ' ' if head else ''}[{self.dtype}; rtol {self.rtol:g} vs autodiff, "
            f"{self.fd_rtol:g} vs finite differences; floor {self.floor_frac:g} x leaf max]"
        )
        status = (
            "PASSED" if self.passed else f"FAILED ({len(self.failures)} of {len(self.rows)} leaves)"
        )
        return f"{title}\n{format_table(self.to_dicts(), REPORT_COLUMNS)}\n{status}"

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return str(self)


# The checking program runs once, so its compile time is all that matters: skip LLVM's
# optimizations (about 40% faster to compile on CPU; the arithmetic is the same IEEE ops).
_ONE_SHOT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def compile_once(fn: Callable, *args) -> Callable:
    """``jax.jit(fn)`` compiled for ``args`` with the one-shot options above (for programs
    that run once or a few times, like a gradient check)."""
    lowered = jax.jit(fn).lower(*args)
    try:
        return lowered.compile(_ONE_SHOT_COMPILER_OPTIONS)
    except Exception:  # a backend without this option: compile with its defaults
        return lowered.compile()


def _dtype_name(tree) -> str:
    leaves = [x for x in jax.tree_util.tree_leaves(tree) if hasattr(x, "dtype")]
    if any(x.dtype == jnp.float64 for x in leaves):
        return "float64"
    return "float32"


class GradCheck(NamedTuple):
    """One item of :func:`check_many`: the arguments of :func:`check_grads`."""

    manual_grad: Callable
    loss: Callable
    params: Any
    batch: tuple = ()
    context: dict | None = None


def check_grads(
    manual_grad: Callable,
    loss: Callable,
    params,
    *batch,
    rtol: float | None = None,
    fd_rtol: float | None = None,
    floor_frac: float = DEFAULT_FLOOR_FRAC,
    atol: float = 0.0,
    fd: bool = True,
    fd_eps: float = 1e-6,
    max_fd_coords: int = 32,
    key=None,
    jit: bool = True,
    context: dict | None = None,
) -> GradcheckReport:
    """Check ``manual_grad(params, *batch)`` against ``jax.grad(loss)`` and finite differences.

    Args:
        manual_grad: the gradient under test; returns a pytree shaped like ``params``.
        loss: the scalar loss ``loss(params, *batch)`` it claims to differentiate.
        params: where to check (use non-trivial values: zeros hide wrong backwards).
        *batch: the other arguments of both functions (data, labels, a dropout key...).
        rtol, fd_rtol: tolerances; default :data:`TOLERANCES` for the params' dtype.
        floor_frac, atol: the floor of the relative error (module docstring).
        fd: also compare with central finite differences (float64).
        fd_eps, max_fd_coords, key: see :func:`finite_difference_grads`.
        jit: compile the manual gradient, ``jax.grad`` and the differences into one program
            (one compile); pass False for a ``manual_grad`` that cannot be traced.
        context: labels shown in the table and copied into every row of ``to_dicts``.

    Returns:
        A :class:`GradcheckReport`; ``report.passed`` is the verdict, ``print(report)`` the table.
    """
    return check_many(
        [GradCheck(manual_grad, loss, params, batch, context)],
        rtol=rtol,
        fd_rtol=fd_rtol,
        floor_frac=floor_frac,
        atol=atol,
        fd=fd,
        fd_eps=fd_eps,
        max_fd_coords=max_fd_coords,
        key=key,
        jit=jit,
    )[0]


def check_many(
    checks: Sequence[GradCheck],
    *,
    rtol: float | None = None,
    fd_rtol: float | None = None,
    floor_frac: float = DEFAULT_FLOOR_FRAC,
    atol: float = 0.0,
    fd: bool = True,
    fd_eps: float = 1e-6,
    max_fd_coords: int = 32,
    key=None,
    jit: bool = True,
) -> list[GradcheckReport]:
    """:func:`check_grads` for several functions at once, in one compiled program.

    Compiling is most of the cost of a check (each runs once), and one program for many
    checks compiles much faster than one per check. Options apply to every check; ``rtol``
    and ``fd_rtol`` default per check to the dtype of its params.
    """
    if not fd_eps > 0:
        raise ValueError(f"fd_eps must be positive; got {fd_eps!r}.")
    checks = [GradCheck(*c) for c in checks]
    plans = [_fd_plan(c.params, max_fd_coords, key) if fd else [] for c in checks]
    idxs = [jnp.asarray(_global_indices(p)) for p in plans]

    def everything(args):
        outs = []
        for c, (params, batch, idx) in zip(checks, args):
            manual = c.manual_grad(params, *batch)
            reference = jax.grad(c.loss)(params, *batch)
            fd_vals = _fd_values(c.loss, params, batch, idx, fd_eps) if fd and idx.size else None
            outs.append((manual, reference, fd_vals))
        return outs

    args = [(c.params, tuple(c.batch), idx) for c, idx in zip(checks, idxs)]
    # x64 on for the float64 differences; arrays keep their own dtype, so float32 gradients
    # are computed in float32.
    with jax.enable_x64(True):
        run = compile_once(everything, args) if jit else everything
        results = run(args)
    return [
        _report(c, plan, res, rtol, fd_rtol, floor_frac, atol, fd, fd_eps)
        for c, plan, res in zip(checks, plans, results)
    ]


def _report(check, plan, result, rtol, fd_rtol, floor_frac, atol, fd, fd_eps) -> GradcheckReport:
    manual, reference, fd_values = result
    dtype = _dtype_name(check.params)
    d_rtol, d_fd_rtol = TOLERANCES[dtype]
    rtol = d_rtol if rtol is None else float(rtol)
    fd_rtol = d_fd_rtol if fd_rtol is None else float(fd_rtol)
    auto_rows = compare_grads(manual, reference, rtol=rtol, floor_frac=floor_frac, atol=atol)
    fd_rows: dict[str, LeafComparison] = {}
    fd_counts: dict[str, int] = {}
    if fd:
        if fd_values is not None:
            fd_vals, noise = _split_fd(plan, fd_values[0]), fd_noise(fd_values[1], fd_eps)
        else:
            fd_vals, noise = {path: (i, np.zeros(0)) for path, i, _ in plan}, 0.0
        fd_rows = compare_with_finite_differences(
            manual, fd_vals, rtol=fd_rtol, floor_frac=floor_frac, atol=atol, noise=noise
        )
        fd_counts = {p: int(v[0].size) for p, v in fd_vals.items()}
    rows = []
    for r in auto_rows:
        f = fd_rows.get(r.path)
        rows.append(
            GradcheckRow(
                leaf=r.path,
                shape=r.shape,
                max_abs_err=r.max_abs_err,
                max_rel_err=r.max_rel_err,
                max_rel_err_fd=None if f is None else f.max_rel_err,
                fd_coords=fd_counts.get(r.path, 0) if f is not None else 0,
                worst_index=r.worst_index,
                passed=r.passed and (f is None or f.passed),
                note=r.note or (f.note if f is not None else ""),
                grad_scale=r.scale,
            )
        )
    context = dict(check.context or {})
    return GradcheckReport(tuple(rows), rtol, fd_rtol, floor_frac, dtype, context)


# --- keeping funcnn's dense models off their kinks ------------------------------------------------


def _safe_shift(a, margin: float):
    """Per column k, the smallest shift s on the grid 2 margin * {0, 1, -1, 2, -2, ...} with
    min_b |a[b, k] + s| >= margin. Each value rules out at most one grid point (the open
    interval of width 2 margin around -a[b, k]), so 2B + 1 candidates always leave one."""
    B = a.shape[0]
    steps = np.array([0] + [s * i for i in range(1, B + 2) for s in (1, -1)], np.float64)
    cand = jnp.asarray(2.0 * margin * steps, a.dtype)  # (C,)
    ok = jnp.all(jnp.abs(a[:, None, :] + cand[None, :, None]) >= margin, axis=0)  # (C, n)
    return cand[jnp.argmax(ok, axis=0)]  # first admissible candidate per column


def _masks_of(model: MLP, x, key) -> list:
    if key is not None and model.uses_dropout:
        return model.dropout_masks(key, x.shape[0], x.dtype)
    return [None] * (model.n_layers - 1)


def move_off_kinks(model: MLP, params, x, *, key=None, margin: float = 1e-3):
    """Shift the biases of ReLU / leaky-ReLU / step layers so that every pre-activation is at
    least ``margin`` away from the kink at 0, for this ``x`` (and dropout ``key``).

    Layer by layer (a shift changes what later layers see): ``a_j = z_{j-1} @ w_j + b_j``;
    for each unit whose pre-activations come within ``margin`` of 0 on some example, ``b_j``
    moves by the smallest multiple of ``2 margin`` that clears all of them (at most
    ``2 margin (B + 1)``). Finite differences with a step far below ``margin`` then never
    straddle a kink, and the convention at the kink (ReLU'(0) = 0) never decides a
    comparison. Pure and traceable (jit it, or call it inside a jitted check). Returns new
    params; weights and the biases of other layers are unchanged.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a funcnn MLP; got {type(model).__name__}.")
    model.check_params(params)
    model.check_input(x)
    if not margin > 0:
        raise ValueError(f"margin must be positive; got {margin!r}.")
    masks = _masks_of(model, x, key)
    z = x
    new = []
    for j, (layer, act) in enumerate(zip(params, model.layer_activations)):
        w, b = layer["w"], layer["b"]
        a = z @ w + b[None, :]  # a_j
        if act in KINKED_ACTIVATIONS:
            shift = _safe_shift(a, margin)
            b = b + shift
            a = a + shift[None, :]
        new.append({"w": w, "b": b})
        z = get_activation(act).f(a)
        if j < model.n_layers - 1 and masks[j] is not None:
            z = z * masks[j]
    return type(params)(new) if isinstance(params, (list, tuple)) else new


def min_kink_distance(model: MLP, params, x, *, key=None):
    """The smallest |a_j| over every pre-activation of a ReLU / leaky-ReLU / step layer, a
    scalar array (inf if the model has none). Traceable."""
    masks = _masks_of(model, x, key)
    z, best = x, jnp.asarray(jnp.inf, x.dtype)
    for j, (layer, act) in enumerate(zip(params, model.layer_activations)):
        a = z @ layer["w"] + layer["b"][None, :]
        if act in KINKED_ACTIVATIONS:
            best = jnp.minimum(best, jnp.min(jnp.abs(a)))
        z = get_activation(act).f(a)
        if j < model.n_layers - 1 and masks[j] is not None:
            z = z * masks[j]
    return best
