"""``check_grads``: a hand-written gradient against ``jax.grad`` and finite differences, in
one compiled program (``check_many`` for several at once)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.gradcheck.compare import DEFAULT_FLOOR_FRAC, TOLERANCES, LeafComparison, compare_grads
from funcnn.gradcheck.finite_differences import (
    compare_with_finite_differences,
    fd_noise,
    fd_plan,
    fd_values,
    plan_indices,
    split_fd,
)
from funcnn.gradcheck.report import GradcheckReport, GradcheckRow

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
    plans = [fd_plan(c.params, max_fd_coords, key) if fd else [] for c in checks]
    idxs = [jnp.asarray(plan_indices(p)) for p in plans]

    def everything(args):
        outs = []
        for c, (params, batch, idx) in zip(checks, args):
            manual = c.manual_grad(params, *batch)
            reference = jax.grad(c.loss)(params, *batch)
            fd_vals = fd_values(c.loss, params, batch, idx, fd_eps) if fd and idx.size else None
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
            fd_vals, noise = split_fd(plan, fd_values[0]), fd_noise(fd_values[1], fd_eps)
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
