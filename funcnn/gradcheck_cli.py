"""``funcnn gradcheck``: every hand-written gradient of funcnn against jax.grad and finite
differences.

Usage::

    funcnn gradcheck                      # every model x activation x loss, float64
    funcnn gradcheck --model mlp --dtype float32
    funcnn gradcheck --json > rows.json

One row per (model, activation, loss, leaf); the command exits 1 if any row fails. The cases
(:func:`cases`) cover every dense model of :mod:`funcnn.models` with every activation and loss
that fits it (the MLP with all of them, also with dropout and with L2 + L1 penalties) and the
attention poolings (parametric and plain Nadaraya–Watson, dot-product attention with and
without masks). Weights are N(0, 1/n_in) and biases N(0, 0.1^2), so no leaf is zero, with
the biases of ReLU / step layers moved off the kink
(:func:`funcnn.gradcheck.move_off_kinks`).

The perceptron is the special case: its step output has derivative 0 wherever it has one, so
manual, autodiff and finite-difference gradients are all exactly zero; its rows say so. It
learns by its own rule (:func:`funcnn.perceptron_update`), not by gradient descent.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from funcnn import backprop as bp
from funcnn import gradcheck as gc
from funcnn.activations import ACTIVATIONS, DIFFERENTIABLE
from funcnn.attention import dot_product_attention, nadaraya_watson, parametric_nw_apply
from funcnn.losses import LOSSES, l1_penalty, l2_penalty, mse
from funcnn.models import (
    MLP,
    deep_linear,
    linear_regression,
    logistic_regression,
    mlp,
    perceptron,
    single_neuron,
    softmax_regression,
)

BATCH = 6
MLP_SIZES = (5, 4, 4, 3)

COLUMNS = [
    ("model", "model"),
    ("activation", "activation"),
    ("loss", "loss"),
    ("leaf", "leaf"),
    ("shape", "shape"),
    ("max_abs_err", "max abs err"),
    ("max_rel_err", "max rel err (autodiff)"),
    ("max_rel_err_fd", "max rel err (fd)"),
    ("pass", "pass"),
    ("note", "note"),
]

PERCEPTRON_NOTE = "step: sigma' = 0, every gradient is exactly 0 (learns by perceptron_update)"


@dataclasses.dataclass(frozen=True)
class Case:
    """One model x activation x loss combination.

    ``build(key, dtype) -> (manual_grad, loss, params, batch)``: the gradient under test, the
    loss it differentiates, where to check it, and the other arguments of both.
    """

    group: str  # the --model name that selects it
    model: str  # the row label
    activation: str
    loss: str
    build: Callable
    note: str = ""


# --- random draws ---------------------------------------------------------------------------


class Draws:
    """Random numbers for one case, from one ``jax.random.key``.

    Two fixed-size blocks (standard normal and uniform) are drawn once and handed out in
    order, reshaped as asked: every case then costs one call of the same compiled sampler,
    instead of one fresh compilation per shape.
    """

    SIZE = 512

    def __init__(self, key, dtype, size: int = SIZE):
        # 32-bit random words from the key (the same with or without x64), turned into
        # float64 uniforms in (0, 1) and, by Box-Muller, standard normals.
        bits = np.asarray(jax.random.bits(key, (3, size), jnp.uint32), np.float64)
        u = (bits + 0.5) / 2.0**32
        self._normal = np.sqrt(-2.0 * np.log(u[0])) * np.cos(2.0 * np.pi * u[1])
        self._uniform = u[2]
        self._i = {"n": 0, "u": 0}
        self.dtype = jnp.dtype(dtype)

    def _take(self, which: str, shape) -> np.ndarray:
        pool = self._normal if which == "n" else self._uniform
        n = int(np.prod(shape, dtype=np.int64))
        i = self._i[which]
        if i + n > pool.size:
            raise ValueError(f"needs more than {pool.size} random numbers; pass a larger size.")
        self._i[which] = i + n
        return pool[i : i + n].reshape(shape)

    def normal(self, shape, scale=1.0):
        return jnp.asarray(scale * self._take("n", shape), self.dtype)

    def uniform(self, shape, low=0.0, high=1.0):
        return jnp.asarray(low + (high - low) * self._take("u", shape), self.dtype)

    def randint(self, shape, n: int):
        return jnp.asarray(np.floor(self._take("u", shape) * n).astype(np.int32))

    def bernoulli(self, shape, p=0.5):
        return self._take("u", shape) < p


# --- dense models ------------------------------------------------------------------------


def _targets(draws: Draws, loss: str, batch: int, n_out: int):
    if loss == "softmax_cross_entropy":
        return draws.randint((batch,), n_out)  # integer class labels
    if loss == "binary_cross_entropy":
        return jnp.asarray(draws.bernoulli((batch, n_out)), draws.dtype)
    return draws.normal((batch, n_out))


def nontrivial_params(model: MLP, draws: Draws):
    """Weights ~ N(0, 1/n_in), biases ~ N(0, 0.1^2): no leaf is zero (zero biases and the
    perceptron's zero initialization would hide a wrong backward)."""
    return [
        {"w": draws.normal((n_in, n_out), 1.0 / np.sqrt(n_in)), "b": draws.normal((n_out,), 0.1)}
        for n_in, n_out in zip(model.sizes[:-1], model.sizes[1:])
    ]


def dense_case_data(model: MLP, loss: str, key, dtype, *, dropout: bool = False):
    """Non-trivial params (off the kinks), inputs, targets and (optional) a dropout key."""
    k_draw, k_drop = jax.random.split(key)
    draws = Draws(k_draw, dtype)
    x = draws.normal((BATCH, model.sizes[0]))
    y = _targets(draws, loss, BATCH, model.sizes[-1])
    dkey = k_drop if dropout else None
    params = gc.move_off_kinks(model, nontrivial_params(model, draws), x, key=dkey)
    return params, x, y, dkey


def _dense_build(model: MLP, loss: str, *, dropout=False, l2=0.0, l1=0.0):
    loss_f = LOSSES[loss]

    def build(key, dtype):
        params, x, y, dkey = dense_case_data(model, loss, key, dtype, dropout=dropout)
        manual = bp.value_and_grad(model, loss, l2=l2, l1=l1)

        def manual_grad(p, x, y, *k):
            return manual(p, x, y, *k)[1]

        def reference(p, x, y, *k):
            out = model.apply(p, x, key=k[0] if k else None, train=bool(k))
            value = loss_f(out, y)
            if l2:
                value = value + l2 * l2_penalty(p)
            if l1:
                value = value + l1 * l1_penalty(p)
            return value

        batch = (x, y, dkey) if dropout else (x, y)
        return manual_grad, reference, params, batch

    return build


def _dense_cases() -> list[Case]:
    out = []
    for loss in ("mse", "sum_squared_error"):
        out.append(
            Case(
                "perceptron",
                "perceptron",
                "heaviside",
                loss,
                _dense_build(perceptron(3), loss),
                PERCEPTRON_NOTE,
            )
        )
    for act in DIFFERENTIABLE:
        for loss in ("mse", "sum_squared_error"):
            out.append(
                Case(
                    "single_neuron",
                    "single_neuron",
                    act,
                    loss,
                    _dense_build(single_neuron(3, act), loss),
                )
            )
    out.append(
        Case(
            "logistic_regression",
            "logistic_regression",
            "identity",
            "binary_cross_entropy",
            _dense_build(logistic_regression(3), "binary_cross_entropy"),
        )
    )
    for loss in ("mse", "sum_squared_error"):
        out.append(
            Case(
                "linear_regression",
                "linear_regression",
                "identity",
                loss,
                _dense_build(linear_regression(3, 2), loss),
            )
        )
    out.append(
        Case(
            "softmax_regression",
            "softmax_regression",
            "identity",
            "softmax_cross_entropy",
            _dense_build(softmax_regression(5, 3), "softmax_cross_entropy"),
        )
    )
    for act in ACTIVATIONS:
        for loss in LOSSES:
            note = "hidden step: layers below it get 0 gradient" if act == "heaviside" else ""
            out.append(Case("mlp", "mlp", act, loss, _dense_build(mlp(MLP_SIZES, act), loss), note))
    for act, loss in (("relu", "softmax_cross_entropy"), ("tanh", "mse")):
        out.append(
            Case(
                "mlp",
                "mlp[dropout=0.3]",
                act,
                loss,
                _dense_build(mlp(MLP_SIZES, act, dropout=0.3), loss, dropout=True),
            )
        )
    out.append(
        Case(
            "mlp",
            "mlp[l2=0.1,l1=0.01]",
            "relu",
            "softmax_cross_entropy",
            _dense_build(mlp(MLP_SIZES, "relu"), "softmax_cross_entropy", l2=0.1, l1=0.01),
        )
    )
    for loss in ("mse", "sum_squared_error"):
        out.append(
            Case(
                "deep_linear",
                "deep_linear",
                "identity",
                loss,
                _dense_build(deep_linear(MLP_SIZES), loss),
            )
        )
    return out


# --- attention pooling ----------------------------------------------------------------------


def _nw_data(key, dtype, n_q=4, m=5):
    draws = Draws(key, dtype)
    q = draws.uniform((n_q,), 0.0, 5.0)
    k = jnp.sort(draws.uniform((m,), 0.0, 5.0))
    v = draws.normal((m,))
    y = draws.normal((n_q,))
    w = 0.5 + draws.uniform(())
    return q, k, v, y, w


def _parametric_nw_build(key, dtype):
    q, k, v, y, w = _nw_data(key, dtype)
    params = {"w": w, "queries": q, "keys": k, "values": v}

    def reference(p, y):
        return mse(parametric_nw_apply({"w": p["w"]}, p["queries"], p["keys"], p["values"]), y)

    def manual_grad(p, y):
        out, cache = bp.parametric_nw_forward({"w": p["w"]}, p["queries"], p["keys"], p["values"])
        dout, _ = bp.mse_backward(out, y)
        g, dq, dk, dv = bp.parametric_nw_backward({"w": p["w"]}, cache, dout)
        return {"w": g["w"], "queries": dq, "keys": dk, "values": dv}

    return manual_grad, reference, params, (y,)


def _nw_build(key, dtype):
    q, k, v, y, _ = _nw_data(key, dtype)
    params = {"queries": q, "keys": k, "values": v}

    def reference(p, y):
        return mse(nadaraya_watson(p["queries"], p["keys"], p["values"]), y)

    def manual_grad(p, y):
        out, cache = bp.nadaraya_watson_forward(p["queries"], p["keys"], p["values"])
        dout, _ = bp.mse_backward(out, y)
        dq, dk, dv = bp.nadaraya_watson_backward(cache, dout)
        return {"queries": dq, "keys": dk, "values": dv}

    return manual_grad, reference, params, (y,)


def _dot_product_build(masking: str):
    def build(key, dtype, lead=2, n_q=3, m=4, d=3, d_v=2):
        draws = Draws(key, dtype)
        params = {
            "queries": draws.normal((lead, n_q, d)),
            "keys": draws.normal((lead, m, d)),
            "values": draws.normal((lead, m, d_v)),
        }
        y = draws.normal((lead, n_q, d_v))
        kw = {}
        if masking == "mask":
            mask = draws.bernoulli((lead, n_q, m), 0.6)
            mask[0, 0, :] = False  # a query with every key masked: zero output
            mask[1, :, 0] = True
            kw["mask"] = jnp.asarray(mask)
        elif masking == "valid_lens":
            kw["valid_lens"] = jnp.array([2, 3])

        def reference(p, y):
            out = dot_product_attention(p["queries"], p["keys"], p["values"], **kw)
            return mse(out, y)

        def manual_grad(p, y):
            out, cache = bp.dot_product_attention_forward(
                p["queries"], p["keys"], p["values"], **kw
            )
            dout, _ = bp.mse_backward(out, y)
            dq, dk, dv = bp.dot_product_attention_backward(cache, dout)
            return {"queries": dq, "keys": dk, "values": dv}

        return manual_grad, reference, params, (y,)

    return build


def _attention_cases() -> list[Case]:
    return [
        Case("parametric_nw", "parametric_nw", "gaussian kernel", "mse", _parametric_nw_build),
        Case("nadaraya_watson", "nadaraya_watson", "gaussian kernel", "mse", _nw_build),
        Case(
            "dot_product_attention",
            "dot_product_attention",
            "softmax",
            "mse",
            _dot_product_build("none"),
        ),
        Case(
            "dot_product_attention",
            "dot_product_attention[mask]",
            "softmax",
            "mse",
            _dot_product_build("mask"),
            "query (0, 0) has every key masked: zero output, zero gradient",
        ),
        Case(
            "dot_product_attention",
            "dot_product_attention[valid_lens]",
            "softmax",
            "mse",
            _dot_product_build("valid_lens"),
        ),
    ]


def cases() -> list[Case]:
    """Every combination ``funcnn gradcheck`` runs."""
    return _dense_cases() + _attention_cases()


def groups() -> list[str]:
    return list(dict.fromkeys(c.group for c in cases()))


def build_case(case: Case, dtype: str = "float64", seed: int = 0) -> gc.GradCheck:
    """The :class:`funcnn.gradcheck.GradCheck` of ``case`` in ``dtype``, drawn from ``seed``
    (each case folds its name into the key, so adding a case changes no other)."""
    name = f"{case.model}|{case.activation}|{case.loss}"
    key = jax.random.fold_in(jax.random.key(seed), hash_name(name))
    manual_grad, loss, params, batch = case.build(key, jnp.dtype(dtype))
    context = {"model": case.model, "activation": case.activation, "loss": case.loss}
    return gc.GradCheck(manual_grad, loss, params, batch, context)


def run_cases(
    selected: list[Case],
    dtype: str = "float64",
    seed: int = 0,
    *,
    chunk: int = 16,
    fd: bool = True,
    progress: bool = False,
) -> list[gc.GradcheckReport]:
    """Check every case in ``selected``; ``chunk`` cases share one compiled program.
    ``fd=False`` skips the finite differences (autodiff only)."""
    reports = []
    bar = tqdm(
        total=len(selected),
        desc="gradcheck",
        unit="case",
        file=sys.stderr,
        leave=False,
        disable=not progress,
    )
    with jax.enable_x64(True):  # float64 finite differences (and --dtype float64)
        for start in range(0, len(selected), chunk):
            part = selected[start : start + chunk]
            checks = [build_case(c, dtype, seed) for c in part]
            for case, report in zip(part, gc.check_many(checks, fd=fd)):
                if case.note:
                    rows = tuple(
                        dataclasses.replace(r, note=r.note or case.note) for r in report.rows
                    )
                    report = dataclasses.replace(report, rows=rows)
                reports.append(report)
            bar.update(len(part))
    bar.close()
    return reports


def run_case(case: Case, dtype: str = "float64", seed: int = 0) -> gc.GradcheckReport:
    """Check one case (see :func:`run_cases`)."""
    return run_cases([case], dtype, seed)[0]


def hash_name(name: str) -> int:
    """A stable (not salted per process) 31-bit hash of a case name, to derive its key."""
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) % (2**31 - 1)
    return h


# --- the command ------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default="all",
        help="which model to check: 'all' (default) or one of " + ", ".join(groups()),
    )
    parser.add_argument(
        "--dtype",
        default="float64",
        choices=["float32", "float64"],
        help="dtype of params, data and gradients under test (finite differences are always "
        "float64); tolerances: float64 1e-10 vs autodiff and 1e-6 vs finite differences, "
        "float32 1e-4 and 1e-4",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of params and data (default 0)")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")


def run(args: argparse.Namespace) -> int:
    valid = groups()
    if args.model != "all" and args.model not in valid:
        print(
            f"funcnn gradcheck: unknown --model {args.model!r}; valid: all, {', '.join(valid)}",
            file=sys.stderr,
        )
        return 2
    selected = [c for c in cases() if args.model in ("all", c.group)]
    t0 = time.perf_counter()
    records = []
    for report in run_cases(selected, args.dtype, args.seed, progress=True):
        records += report.to_dicts()
    elapsed = time.perf_counter() - t0
    n_fail = sum(not r["pass"] for r in records)
    if args.json:
        print(json.dumps(records, indent=1, allow_nan=False))
    else:
        rtol, fd_rtol = gc.TOLERANCES[args.dtype]
        print(
            f"funcnn gradcheck: {len(selected)} combinations, {args.dtype}, seed {args.seed}. "
            f"rel err = |a - b| / max(|a|, |b|, {gc.DEFAULT_FLOOR_FRAC:g} x max of the leaf); "
            f"pass: <= {rtol:g} vs jax.grad, <= {fd_rtol:g} vs float64 central differences."
        )
        print(gc.format_table(records, COLUMNS))
        verdict = "all passed" if n_fail == 0 else f"{n_fail} FAILED"
        print(f"{len(records)} rows, {verdict} ({elapsed:.1f} s)")
    return 1 if n_fail else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="funcnn gradcheck", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())


__all__ = [
    "COLUMNS",
    "Case",
    "add_arguments",
    "cases",
    "groups",
    "main",
    "run",
    "run_case",
    "run_cases",
    "build_case",
]
