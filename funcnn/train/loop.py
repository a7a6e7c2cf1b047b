"""The epoch loop of ``fit`` and ``fit_seeds``: one compiled call per epoch, then Python.

After each compiled epoch the loop checks that every step's loss was finite, evaluates the
splits (jitted), records the epoch in the history, updates the progress bar, tracks the
best validation metric for early stopping, checkpoints, and calls the callback. Each of
those is a small function of the NamedTuples below; :func:`run_loop` strings them together.

The same loop serves one run (metrics are scalars) and stacked runs (``fit_seeds``: metrics
have a leading runs axis, and ``Plan.runs`` names them).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.train.checkpoint import Checkpointer, restore_run, save_run
from funcnn.train.config import RunConfig
from funcnn.train.state import TrainState


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN or infinite loss; names the epoch and the step.

    Attributes:
        epoch: 1-based epoch in which the first non-finite loss occurred.
        step: 1-based global update number of that loss.
        run: index of the run (for :func:`funcnn.train.fit_seeds`), else None.
        history: the history of the completed epochs.
        checkpoint_epoch: epoch of the last good checkpoint on disk, or None.
    """

    def __init__(self, message, *, epoch, step, run=None, history=None, checkpoint_epoch=None):
        super().__init__(message)
        self.epoch, self.step, self.run = epoch, step, run
        self.history = history
        self.checkpoint_epoch = checkpoint_epoch


class Plan(NamedTuple):
    """What the loop runs, fixed before it starts.

    Attributes:
        epoch_fn: ``(state, x, y) -> (state, metrics)``, one compiled epoch; ``metrics``
            ``{"loss", "grad_norm"}`` of shape ``(n_batches,)`` or ``(runs, n_batches)``.
        eval_fn: ``(params, x, y) -> {"loss", "accuracy"?}``, of shape ``()`` or ``(runs,)``.
        splits: ``{"train": (x, y), "val": ..., "test": ...}`` on device.
        config: the resolved :class:`RunConfig` (epochs, checkpoints, early stopping, ...).
        record: the configuration as JSON, saved with every checkpoint.
        n_batches: updates per epoch.
        lrs: ``(epochs,)`` learning rate after each epoch's last update, or None.
        runs: one dict per run (``fit_seeds``), or None for one run.
        desc: the progress bar's label.
    """

    epoch_fn: Callable
    eval_fn: Callable
    splits: dict[str, tuple]
    config: RunConfig
    record: dict[str, Any]
    n_batches: int
    lrs: np.ndarray | None
    runs: list[dict] | None
    desc: str


class Best(NamedTuple):
    """Early stopping's memory of the best epoch.

    Attributes:
        metric: the validation metric watched, "val_accuracy" or "val_loss".
        value: its best value so far (mean over runs), or None.
        epoch: the epoch of that value, or None.
        params: a copy of that epoch's params (None when it was trained before a resume).
        bad_epochs: epochs since the best one.
    """

    metric: str
    value: float | None = None
    epoch: int | None = None
    params: Any = None
    bad_epochs: int = 0


class LoopState(NamedTuple):
    """Where the loop stands after an epoch.

    Attributes:
        state: the training state (params, optimizer state, step, key).
        history: per-epoch lists (``epoch``, ``loss``, ``grad_norm``, ``lr``,
            ``{split}_{metric}``, ``time_s``).
        epoch: epochs completed.
        last_saved: epoch of the newest checkpoint on disk, or None.
        best: early stopping's :class:`Best`, or None without early stopping.
        stopped: whether early stopping or the callback ended the run.
    """

    state: TrainState
    history: dict[str, list]
    epoch: int
    last_saved: int | None
    best: Best | None
    stopped: bool = False


class LoopResult(NamedTuple):
    """What :func:`run_loop` returns.

    Attributes:
        state: the final training state (the last epoch's, not the best one's).
        params: the params to keep: the best epoch's with early stopping, else the last.
        history: per-epoch lists (see :class:`LoopState`).
        final: the last epoch's metrics, plus the training set's when ``eval_train`` is off
            (evaluated once, at the end).
        best_epoch: the best epoch of early stopping, else None.
        stopped_early: whether early stopping ended the run.
        wall_time_s: seconds since ``t0``.
    """

    state: TrainState
    params: Any
    history: dict[str, list]
    final: dict[str, Any]
    best_epoch: int | None
    stopped_early: bool
    wall_time_s: float


# --- one epoch ------------------------------------------------------------------------------


def tolist(a):
    """A NumPy or JAX value as a Python number or (nested) list."""
    a = np.asarray(a)
    return a.item() if a.ndim == 0 else a.tolist()


def first_nonfinite(losses: np.ndarray) -> tuple[int, int] | None:
    """``(run, index)`` of the first non-finite loss in ``(runs, steps)``, or None."""
    bad = ~np.isfinite(losses)
    if not bad.any():
        return None
    r = int(np.flatnonzero(bad.any(axis=1))[0])
    return r, int(np.flatnonzero(bad[r])[0])


def check_losses(plan: Plan, loop: LoopState, losses: np.ndarray, epoch: int, directory) -> None:
    """Raise :class:`NonFiniteLossError` naming the epoch, the step and the run if any of
    ``losses`` (``(n_batches,)`` or ``(runs, n_batches)``) is NaN or infinite."""
    losses = losses.reshape(-1, losses.shape[-1])
    bad = first_nonfinite(losses)
    if bad is None:
        return
    run, i = bad
    step = (epoch - 1) * plan.n_batches + i + 1
    where = f" in run {run} ({plan.runs[run]})" if plan.runs else ""
    kept = (
        f"the last good checkpoint (epoch {loop.last_saved}) in {directory} is intact"
        if directory is not None and loop.last_saved
        else "no checkpoint was written"
    )
    raise NonFiniteLossError(
        f"non-finite training loss ({losses[run, i]}){where} at epoch {epoch}, step {step} "
        f"(batch {i + 1} of {plan.n_batches}); training stopped and {kept}. Lower the "
        "learning rate or clip gradients (clip_norm).",
        epoch=epoch,
        step=step,
        run=run if plan.runs else None,
        history=loop.history,
        checkpoint_epoch=loop.last_saved,
    )


def evaluate_splits(plan: Plan, params, splits) -> dict[str, Any]:
    """``{"{split}_{metric}": value}`` of ``params`` on ``splits`` (the jitted ``eval_fn``)."""
    out = {}
    for split in splits:
        x, y = plan.splits[split]
        for k, v in plan.eval_fn(params, x, y).items():
            out[f"{split}_{k}"] = tolist(v)
    return out


def epoch_record(plan: Plan, state: TrainState, metrics: dict, epoch: int) -> dict[str, Any]:
    """One epoch's entry of the history (without ``time_s``): the mean training objective
    and gradient norm over its steps, the learning rate after its last update, and the
    evaluations (the training set only with ``eval_train``)."""
    record = {
        "epoch": epoch,
        "loss": tolist(np.asarray(metrics["loss"]).mean(axis=-1)),
        "grad_norm": tolist(np.asarray(metrics["grad_norm"]).mean(axis=-1)),
    }
    if plan.lrs is not None:
        record["lr"] = float(plan.lrs[epoch - 1])
    splits = [s for s in plan.splits if s != "train" or plan.config.eval_train]
    return {**record, **evaluate_splits(plan, state.params, splits)}


def append(history: dict[str, list], record: dict[str, Any]) -> dict[str, list]:
    """``history`` with ``record`` appended (in place; returned for chaining)."""
    for k, v in record.items():
        history.setdefault(k, []).append(v)
    return history


# --- early stopping -------------------------------------------------------------------------


def monitor(loss) -> str:
    """The validation metric early stopping watches: accuracy for classification."""
    classification = loss in ("softmax_cross_entropy", "binary_cross_entropy")
    return "val_accuracy" if classification else "val_loss"


def is_better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if metric.endswith("accuracy") else value < best


def initial_best(config: RunConfig, history: dict[str, list], start: int) -> Best | None:
    """Early stopping's state at epoch ``start`` (from the history of a resumed run)."""
    if config.early_stopping_patience is None:
        return None
    best = Best(monitor(config.loss))
    for i, v in enumerate(history.get(best.metric, [])):
        if is_better(best.metric, float(np.mean(v)), best.value):
            best = best._replace(value=float(np.mean(v)), epoch=i + 1)
    if best.epoch is not None:
        best = best._replace(bad_epochs=start - best.epoch)
    return best


def update_best(best: Best, record: dict, state: TrainState) -> Best:
    """``best`` after an epoch: the new best (with a copy of its params) or one more bad
    epoch."""
    value = float(np.mean(record[best.metric]))
    if is_better(best.metric, value, best.value):
        params = jax.tree.map(jnp.copy, state.params)  # the state is donated next epoch
        return Best(best.metric, value, record["epoch"], params, 0)
    return best._replace(bad_epochs=best.bad_epochs + 1)


# --- the loop -------------------------------------------------------------------------------


def checkpoint_due(config: RunConfig, epoch: int, stopped: bool) -> bool:
    """Checkpoints are written every ``checkpoint_every`` epochs, at the end, and when
    early stopping ends the run."""
    every = config.checkpoint_every
    return epoch == config.epochs or stopped or bool(every and epoch % every == 0)


def train_epoch(plan: Plan, loop: LoopState, ckpt: Checkpointer | None, t0, elapsed0):
    """Run epoch ``loop.epoch + 1``: returns ``(loop, record)`` with the epoch in the history
    and early stopping updated."""
    epoch = loop.epoch + 1
    x, y = plan.splits["train"]
    state, metrics = plan.epoch_fn(loop.state, x, y)
    directory = ckpt.directory if ckpt is not None else None
    check_losses(plan, loop, np.asarray(metrics["loss"]), epoch, directory)
    record = epoch_record(plan, state, metrics, epoch)
    record["time_s"] = elapsed0 + time.perf_counter() - t0
    best, stopped = loop.best, False
    if best is not None:
        best = update_best(best, record, state)
        stopped = best.bad_epochs >= plan.config.early_stopping_patience
    loop = LoopState(state, append(loop.history, record), epoch, loop.last_saved, best, stopped)
    return loop, record


def after_epoch(plan: Plan, loop: LoopState, ckpt: Checkpointer | None, callback) -> LoopState:
    """Checkpoint if due, then call ``callback(epoch, state, history)``; a True answer stops
    the run (and checkpoints it, if that epoch was not saved already)."""
    saved = ckpt is not None and checkpoint_due(plan.config, loop.epoch, loop.stopped)
    if saved:
        save_run(ckpt, loop.epoch, loop.state, loop.history, plan.record)
        loop = loop._replace(last_saved=loop.epoch)
    if callback is not None and callback(loop.epoch, loop.state, loop.history):
        loop = loop._replace(stopped=True)
        if ckpt is not None and not saved:
            save_run(ckpt, loop.epoch, loop.state, loop.history, plan.record)
            loop = loop._replace(last_saved=loop.epoch)
    return loop


def compile_clock(pending, start: float) -> Callable[[], float | None]:
    """``seconds()``: how long the background compilation ``pending``
    (:func:`funcnn.train.step.precompile`) took, from ``start`` (``time.perf_counter()``
    before it was started) until its last program was compiled; None while it runs."""
    finished: list[float] = []
    for future in pending.futures:
        future.add_done_callback(lambda _: finished.append(time.perf_counter()))

    def seconds() -> float | None:
        if len(finished) < len(pending.futures):
            return None
        return max(finished) - start

    return seconds


def progress_bar(total: int, initial: int, desc: str, enabled: bool):
    """A tqdm bar over epochs, on stderr (only on process 0 of several)."""
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="epoch",
        disable=not enabled or jax.process_index() != 0,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=True,
    )


def postfix(record: dict) -> dict[str, str]:
    """Up to four of the epoch's numbers for the progress bar (means over runs)."""
    keys = ("loss", "train_accuracy", "val_accuracy", "test_accuracy", "val_loss", "test_loss")
    shown = [k for k in keys if k in record][:4]
    return {k.replace("accuracy", "acc"): f"{float(np.mean(record[k])):.4g}" for k in shown}


def finish(plan: Plan, loop: LoopState, t0: float) -> LoopResult:
    """The result of a finished loop: the params to keep and the final metrics."""
    best = loop.best
    params, best_epoch = loop.state.params, None
    if best is not None:
        best_epoch = best.epoch
        if best.params is not None:
            params = best.params
        elif best.epoch is not None and best.epoch != len(loop.history["epoch"]):
            best_epoch = len(loop.history["epoch"])  # resumed after it: its params are gone
    final = {k: v[-1] for k, v in loop.history.items() if v}
    if not plan.config.eval_train and loop.history.get("epoch"):
        final.update(evaluate_splits(plan, params, ["train"]))  # once, at the end
    stopped_early = loop.stopped and best is not None
    wall = time.perf_counter() - t0
    return LoopResult(loop.state, params, loop.history, final, best_epoch, stopped_early, wall)


def run_loop(plan: Plan, state: TrainState, *, t0, pending=None, placement=None, callback=None):
    """Train ``state`` (or the checkpoint it resumes) for ``plan.config.epochs`` epochs.

    Args:
        plan: the :class:`Plan`.
        state: the initial training state.
        t0: ``time.perf_counter()`` at the start of the call (for ``time_s`` and the wall
            time).
        pending: a future of the programs compiling in the background (:func:`funcnn.train.evaluate.precompile`),
            awaited before the first epoch.
        placement: a function placing the (restored) state on the devices, or None.
        callback: ``callback(epoch, state, history) -> bool``; True stops training.

    Returns:
        :class:`LoopResult`.
    """
    config = plan.config
    ckpt = Checkpointer(config.checkpoint_dir) if config.checkpoint_dir is not None else None
    try:
        state, history, start = restore_run(ckpt, state, plan.record, resume=config.resume)
        if placement is not None:
            state = placement(state)
        elapsed0 = history["time_s"][-1] if history.get("time_s") else 0.0
        if pending is not None:
            pending.result()  # re-raises a compilation error
        loop = LoopState(state, history, start, start or None, initial_best(config, history, start))
        with progress_bar(config.epochs, start, plan.desc, config.progress) as bar:
            while loop.epoch < config.epochs and not loop.stopped:
                loop, record = train_epoch(plan, loop, ckpt, t0, elapsed0)
                bar.set_postfix(postfix(record), refresh=False)
                bar.update(1)
                loop = after_epoch(plan, loop, ckpt, callback)
    finally:
        if ckpt is not None:
            ckpt.close()
    return finish(plan, loop, t0)
