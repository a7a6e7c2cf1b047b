"""The table of gradient checks ``funcnn gradcheck`` runs: every model x activation x loss.

:data:`CASES` covers every dense model of :mod:`funcnn.models` with every activation and loss
that fits it (the MLP with all of them, also with dropout and with L2 + L1 penalties), the
generic recursion over blocks (:mod:`funcnn.backprop.serial`) on compositions, and the
attention poolings (:mod:`funcnn.gradcheck.attention_cases`). Weights are N(0, 1/fan_in) and
biases N(0, 0.1^2), so no leaf is zero, with the biases of ReLU / step layers moved off the
kink (:func:`funcnn.gradcheck.move_off_kinks`). Tests and experiments import the table from
here; a new block adds its rows with :func:`model_case`.

The perceptron is the special case: its step output has derivative 0 wherever it has one, so
manual, autodiff and finite-difference gradients are all exactly zero; its rows say so. It
learns by its own rule (:func:`funcnn.perceptron_update`), not by gradient descent.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from funcnn import backprop as bp
from funcnn.activations import ACTIVATIONS, DIFFERENTIABLE
from funcnn.blocks import Act, Dense, Dropout, serial
from funcnn.gradcheck.attention_cases import ATTENTION_CASES
from funcnn.gradcheck.case import Case
from funcnn.gradcheck.check import GradCheck, check_many
from funcnn.gradcheck.conv_cases import conv_cases
from funcnn.gradcheck.draws import BATCH, Draws, nontrivial_params, targets
from funcnn.gradcheck.kinks import move_off_kinks
from funcnn.gradcheck.recurrent_cases import recurrent_cases
from funcnn.gradcheck.report import GradcheckReport
from funcnn.losses import LOSSES, l1_penalty, l2_penalty
from funcnn.models import (
    deep_linear,
    linear_regression,
    logistic_regression,
    mlp,
    perceptron,
    single_neuron,
    softmax_regression,
)

MLP_SIZES = (5, 4, 4, 3)

#: Columns of the command's table: (key of a row dict, header).
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


def model_case_data(model, loss: str, key, dtype, *, dropout: bool = False):
    """Non-trivial params (off the kinks), inputs, targets and (optional) a dropout key."""
    k_draw, k_drop = jax.random.split(key)
    n_params = sum(np.size(p) for p in jax.tree.leaves(jax.eval_shape(model.init, k_draw)))
    n_data = BATCH * (math.prod(model.input_shape) + math.prod(model.output_shape))
    size = max(Draws.SIZE, 1 << (n_params + n_data - 1).bit_length())  # 512 for small models
    draws = Draws(k_draw, dtype, size)
    x = draws.normal((BATCH, *model.input_shape))
    y = targets(draws, loss, BATCH, model.output_shape)
    dkey = k_drop if dropout else None
    params = move_off_kinks(model, nontrivial_params(model, draws), x, key=dkey)
    return params, x, y, dkey


def model_build(model, loss: str, *, dropout=False, l2=0.0, l1=0.0) -> Callable:
    """``build(key, dtype)`` of a case checking ``funcnn.backprop.value_and_grad(model, loss)``
    against ``jax.grad`` of ``loss(model.apply(...)) + penalties``."""
    loss_f = LOSSES[loss]

    def build(key, dtype):
        params, x, y, dkey = model_case_data(model, loss, key, dtype, dropout=dropout)
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


def model_case(group, label, activation, loss, model, note="", *, fd=True, **options) -> Case:
    """A row of the table for ``model`` (any composition with registered backprop);
    ``fd=False`` compares with ``jax.grad`` only."""
    return Case(group, label, activation, loss, model_build(model, loss, **options), note, fd)


def _dense_cases() -> list[Case]:
    out = [
        model_case("perceptron", "perceptron", "heaviside", loss, perceptron(3), PERCEPTRON_NOTE)
        for loss in ("mse", "sum_squared_error")
    ]
    out += [
        model_case("single_neuron", "single_neuron", act, loss, single_neuron(3, act))
        for act in DIFFERENTIABLE
        for loss in ("mse", "sum_squared_error")
    ]
    bce = "binary_cross_entropy"
    out.append(
        model_case("logistic_regression", "logistic_regression", "identity", bce,
                   logistic_regression(3))
    )  # fmt: skip
    out += [
        model_case("linear_regression", "linear_regression", "identity", loss,
                   linear_regression(3, 2))
        for loss in ("mse", "sum_squared_error")
    ]  # fmt: skip
    sce = "softmax_cross_entropy"
    out.append(
        model_case("softmax_regression", "softmax_regression", "identity", sce,
                   softmax_regression(5, 3))
    )  # fmt: skip
    for act in ACTIVATIONS:
        note = "hidden step: layers below it get 0 gradient" if act == "heaviside" else ""
        out += [model_case("mlp", "mlp", act, loss, mlp(MLP_SIZES, act), note) for loss in LOSSES]
    out += [
        model_case("mlp", "mlp[dropout=0.3]", act, loss, mlp(MLP_SIZES, act, dropout=0.3),
                   dropout=True)
        for act, loss in (("relu", sce), ("tanh", "mse"))
    ]  # fmt: skip
    out.append(
        model_case("mlp", "mlp[l2=0.1,l1=0.01]", "relu", sce, mlp(MLP_SIZES, "relu"),
                   l2=0.1, l1=0.01)
    )  # fmt: skip
    out += [
        model_case("deep_linear", "deep_linear", "identity", loss, deep_linear(MLP_SIZES))
        for loss in ("mse", "sum_squared_error")
    ]
    return out


def _serial_cases() -> list[Case]:
    """The generic recursion over blocks (not the dense networks' lecture form)."""
    sce = "softmax_cross_entropy"
    nested = serial(
        serial(Dense(5, 4), Act("gelu"), Dropout(0.3)),
        Dense(4, 4, "he_normal"),
        Act("leaky_relu"),
        Dense(4, 3),
        kind="nested",
    )
    return [
        model_case("serial", "serial[mlp blocks]", "relu", sce,
                   mlp(MLP_SIZES, "relu", dropout=0.3).serial, dropout=True),
        model_case("serial", "serial[nested]", "gelu/leaky_relu", "mse", nested, dropout=True),
    ]  # fmt: skip


#: Every combination ``funcnn gradcheck`` runs, in its order.
CASES: tuple[Case, ...] = (
    *_dense_cases(),
    *_serial_cases(),
    *ATTENTION_CASES,
    *conv_cases(model_case),
    *recurrent_cases(model_case),
)


def cases() -> list[Case]:
    """Every combination ``funcnn gradcheck`` runs (:data:`CASES`)."""
    return list(CASES)


def groups(table=None) -> list[str]:
    """The ``--model`` names of ``table`` (default :data:`CASES`), in table order."""
    return list(dict.fromkeys(c.group for c in (CASES if table is None else table)))


def hash_name(name: str) -> int:
    """A stable (not salted per process) 31-bit hash of a case name, to derive its key."""
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) % (2**31 - 1)
    return h


def build_case(case: Case, dtype: str = "float64", seed: int = 0) -> GradCheck:
    """The :class:`funcnn.gradcheck.GradCheck` of ``case`` in ``dtype``, drawn from ``seed``
    (each case folds its name into the key, so adding a case changes no other)."""
    name = f"{case.model}|{case.activation}|{case.loss}"
    key = jax.random.fold_in(jax.random.key(seed), hash_name(name))
    manual_grad, loss, params, batch = case.build(key, jnp.dtype(dtype))
    context = {"model": case.model, "activation": case.activation, "loss": case.loss}
    return GradCheck(manual_grad, loss, params, batch, context)


def run_cases(
    selected, dtype: str = "float64", seed: int = 0, *, chunk: int = 16, fd: bool = True,
    progress: bool = False,
) -> list[GradcheckReport]:  # fmt: skip
    """Check every case in ``selected``; ``chunk`` cases share one compiled program.
    ``fd=False`` skips the finite differences (autodiff only) for every case, as a case's own
    ``fd=False`` does for that case."""
    from tqdm.auto import tqdm

    reports = []
    bar = tqdm(
        total=len(selected), desc="gradcheck", unit="case", file=sys.stderr, leave=False,
        disable=not progress,
    )  # fmt: skip
    with jax.enable_x64(True):  # float64 finite differences (and --dtype float64)
        for start in range(0, len(selected), chunk):
            part = selected[start : start + chunk]
            done = {}
            for with_fd in (True, False):
                sub = [c for c in part if (fd and c.fd) == with_fd]
                if sub:
                    checks = [build_case(c, dtype, seed) for c in sub]
                    done.update(zip(map(id, sub), check_many(checks, fd=with_fd)))
            for case in part:
                report = done[id(case)]
                if case.note:
                    rows = tuple(
                        dataclasses.replace(r, note=r.note or case.note) for r in report.rows
                    )
                    report = dataclasses.replace(report, rows=rows)
                reports.append(report)
            bar.update(len(part))
    bar.close()
    return reports


def run_case(case: Case, dtype: str = "float64", seed: int = 0) -> GradcheckReport:
    """Check one case (see :func:`run_cases`)."""
    return run_cases([case], dtype, seed)[0]
