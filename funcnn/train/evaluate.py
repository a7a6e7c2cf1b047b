"""Jitted evaluation of a model on a whole set, and compiling a run's programs ahead.

* :func:`evaluate` computes the loss (and accuracy for classification) on a whole set;
  :func:`make_eval_fn` is its pure function, :func:`make_eval` the jitted one (cached).
* :func:`precompile` lowers and compiles a run's epoch and evaluations in background threads
  while the main thread draws the initial parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.losses import LOSSES
from funcnn.train.step import check_loss


def _loss_name(loss) -> str | None:
    return loss if isinstance(loss, str) else None


def make_eval_fn(model, loss) -> Callable:
    """The pure ``(params, x, y) -> {"loss": (), "accuracy": ()}`` of :func:`evaluate`."""
    check_loss(loss)
    loss_fn = LOSSES[loss] if isinstance(loss, str) else loss
    name = _loss_name(loss)

    def eval_fn(params, x, y):
        out = model.apply(params, x)  # evaluation mode: no dropout
        metrics = {"loss": loss_fn(out, y)}
        if name == "softmax_cross_entropy" and jnp.issubdtype(y.dtype, jnp.integer):
            metrics["accuracy"] = jnp.mean(jnp.argmax(out, axis=1) == y)
        elif name == "softmax_cross_entropy":  # one-hot / soft targets
            metrics["accuracy"] = jnp.mean(jnp.argmax(out, axis=1) == jnp.argmax(y, axis=1))
        elif name == "binary_cross_entropy":  # logit > 0  <=>  p > 1/2
            metrics["accuracy"] = jnp.mean((out > 0) == (y > 0.5))
        return metrics

    return eval_fn


@functools.lru_cache(maxsize=128)
def make_eval(model, loss):
    """:func:`make_eval_fn` jitted, one compiled function per ``(model, loss)`` (cached)."""
    return jax.jit(make_eval_fn(model, loss))


def evaluate(model, params, x, y, loss) -> dict[str, jax.Array]:
    """Loss and, for classification losses, accuracy of ``model`` on a whole set (jitted).

    Args:
        model: a funcnn model; evaluated without dropout.
        params: its parameters.
        x: ``(n, *model.input_shape)`` inputs.
        y: targets as the loss takes them: int labels ``(n,)`` for
            "softmax_cross_entropy", ``(n, 1)`` floats in {0, 1} for "binary_cross_entropy",
            ``(n, n_out)`` for regression losses.
        loss: the loss name (the data loss, without penalties, is reported).

    Returns:
        ``{"loss": ()}`` plus ``"accuracy": ()`` for "softmax_cross_entropy" (argmax of the
        logits) and "binary_cross_entropy" (logit > 0), as device scalars.
    """
    check_loss(loss)
    checks.check_same_batch(x, y, "x", "y")
    return make_eval(model, loss)(params, x, y)


# --- compiling ahead ----------------------------------------------------------------------


class Pending(NamedTuple):
    """Compilations running in background threads; ``result()`` waits for them (and
    re-raises a compilation error)."""

    futures: list

    def result(self) -> None:
        for f in self.futures:
            f.result()


def precompile(epoch_fn, eval_fn, state_shapes, splits: dict, *epoch_args) -> Pending:
    """Compile a run's epoch and its evaluation of every split in background threads.

    ``epoch_fn(state, *epoch_args, x, y)`` is lowered for ``state_shapes`` (from
    ``jax.eval_shape``) and the training split, ``eval_fn(params, x, y)`` for each split:
    ``jitted.lower(*args).compile()`` fills the jit's cache, so the first real call only
    traces. XLA compiles with the GIL released, so the epoch (the largest program) and the
    evaluations (in a second thread) overlap with each other and with the eager work of the
    main thread (drawing the initial params, opening the checkpoint directory).
    """
    jobs = [(epoch_fn, (state_shapes, *epoch_args, *splits["train"]))]
    jobs += [(eval_fn, (state_shapes.params, *xy)) for xy in splits.values()]

    def work(part):
        for jitted, args in part:
            jitted.lower(*args).compile()

    parts = [p for p in (jobs[:1], jobs[1:]) if p]
    executor = ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="funcnn-compile")
    futures = [executor.submit(work, p) for p in parts]
    executor.shutdown(wait=False)
    return Pending(futures)
