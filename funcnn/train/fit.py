"""``fit``: train a model on a dataset, one compiled call per epoch.

The Python loop below runs once per epoch: it calls the compiled epoch
(:func:`funcnn.train.step.make_epoch`), checks that every step's loss was finite, evaluates
on the train/validation/test sets (jitted), records the history, updates the progress bar,
checkpoints, and decides on early stopping.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from funcnn import checks
from funcnn.io import device_info, versions  # noqa: F401  (re-exported)
from funcnn.train.optim import OPTIMIZERS, make_optimizer, make_schedule
from funcnn.train.state import TrainState, init_state, seed_key
from funcnn.train.step import _check_grad, _check_loss, _check_penalty, _jitted_eval, make_epoch


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


class FitResult(NamedTuple):
    """What :func:`fit` returns.

    Attributes:
        params: the trained params (with early stopping: those of the best epoch).
        history: per-epoch lists: ``epoch``, ``loss`` (mean training objective over the
            epoch's steps, dropout on), ``lr`` (after the epoch's last update),
            ``{train,val,test}_{loss,accuracy}`` (evaluation mode, data loss without
            penalties; accuracy for classification), ``time_s`` (since the start of fit).
        state: the final :class:`TrainState` (last epoch, not the best one).
        wall_time_s: seconds from the call to the return, compilation included.
        final: the last epoch's metrics as floats (``history[k][-1]`` for each k), and with
            ``eval_train=False`` the training set's ``train_loss``/``train_accuracy``,
            evaluated once at the end.
        best_epoch: the epoch of the best validation metric (early stopping), else None.
        stopped_early: whether early stopping ended the run.
        config: the resolved configuration (JSON-serializable).
    """

    params: Any
    history: dict[str, list]
    state: TrainState
    wall_time_s: float
    final: dict[str, float]
    best_epoch: int | None
    stopped_early: bool
    config: dict[str, Any]


# --- datasets and targets -----------------------------------------------------------------


def _resolve_dataset(dataset):
    if isinstance(dataset, str):
        from funcnn.data import load

        return load(dataset)
    for field in ("x_train", "y_train", "x_test", "y_test"):
        if not hasattr(dataset, field):
            raise TypeError(
                "dataset must be a funcnn.data.Dataset (or a name for funcnn.data.load); "
                f"got {type(dataset).__name__} without {field!r}."
            )
    return dataset


def _n_out(model) -> int:
    sizes = getattr(model, "sizes", None)
    if not sizes:
        raise TypeError(f"model must be a funcnn model with .sizes; got {type(model).__name__}.")
    return int(sizes[-1])


def infer_loss(model, n_classes) -> str:
    """The loss a model and a dataset call for.

    Regression (``n_classes`` None): "mse". Two classes and one output: the logit of class 1,
    "binary_cross_entropy". Otherwise "softmax_cross_entropy" over ``n_classes`` logits.
    """
    if getattr(model, "kind", None) == "perceptron":
        raise ValueError(
            "the perceptron's heaviside output has zero gradient and cannot be trained by "
            "gradient descent; use funcnn.perceptron_epoch (Rosenblatt's rule)."
        )
    n_out = _n_out(model)
    if n_classes is None:
        return "mse"
    if n_classes == 2 and n_out == 1:
        return "binary_cross_entropy"
    if n_out != n_classes:
        raise ValueError(
            f"the model has {n_out} outputs but the dataset has {n_classes} classes; build the "
            f"model with {n_classes} outputs (or 1 for two classes)."
        )
    return "softmax_cross_entropy"


def prepare_targets(y, loss: str, n_out: int, dtype, name: str = "y"):
    """Targets in the form ``loss`` takes: int labels ``(n,)`` for softmax cross-entropy,
    float ``(n, n_out)`` for the others (1-D labels become a column when ``n_out`` is 1)."""
    y = np.asarray(y)
    if loss == "softmax_cross_entropy":
        if y.ndim == 1:
            if not np.issubdtype(y.dtype, np.integer):
                raise TypeError(f"{name} must hold integer class labels; got dtype {y.dtype}.")
            if y.size and (y.min() < 0 or y.max() >= n_out):
                bad = y.min() if y.min() < 0 else y.max()
                raise ValueError(f"{name} must lie in [0, {n_out - 1}]; found label {bad}.")
            return jnp.asarray(y, jnp.int32)
        return jnp.asarray(y, dtype)
    if y.ndim == 1:
        if n_out != 1:
            raise ValueError(
                f"{name} has shape {y.shape} but the model has {n_out} outputs; give targets of "
                f"shape (n, {n_out})."
            )
        y = y[:, None]
    if y.ndim != 2 or y.shape[1] != n_out:
        raise ValueError(f"{name} must have shape (n, {n_out}) for loss {loss!r}; got {y.shape}.")
    return jnp.asarray(y, dtype)


def prepare_inputs(x, model, dtype, name: str = "x"):
    x = np.asarray(x)
    n_in = int(model.sizes[0])
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (n, {n_in}) for this model; got {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return jnp.asarray(x, dtype)


def _splits(data, model, loss, dtype) -> dict[str, tuple]:
    """{"train": (x, y), "val": ..., "test": ...} on device, validated."""
    n_out = _n_out(model)
    out = {}
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}", None), getattr(data, f"y_{split}", None)
        if x is None and y is None:
            continue
        if x is None or y is None:
            raise ValueError(f"dataset has only one of x_{split} and y_{split}.")
        if len(x) != len(y):
            raise ValueError(
                f"x_{split} and y_{split} must have the same length; got {len(x)} and {len(y)}."
            )
        if len(x) == 0:
            if split == "train":
                raise ValueError("the training set is empty.")
            continue
        xs = prepare_inputs(x, model, dtype, f"x_{split}")
        ys = (
            prepare_targets(y, loss, n_out, dtype, f"y_{split}")
            if isinstance(loss, str)
            else (jnp.asarray(y))
        )
        out[split] = (xs, ys)
    return out


# --- configuration ------------------------------------------------------------------------


def _model_config(model) -> dict:
    if dataclasses.is_dataclass(model):
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(model).items()
        }
    return {"repr": repr(model)}


def schedule_total_steps(schedule, total_steps: int) -> int | None:
    """``total_steps`` where the schedule depends on it, else None (so runs that differ only
    in their number of epochs share one optimizer and one compiled epoch)."""
    return total_steps if schedule in ("cosine", "warmup_cosine", "exponential") else None


@functools.lru_cache(maxsize=128)
def build_optimizer(
    optimizer,
    lr,
    schedule: str,
    total_steps: int | None,
    warmup_steps: int,
    weight_decay,
    clip_norm,
    momentum,
) -> tuple[optax.GradientTransformation, Callable | None]:
    """``(optimizer, schedule)`` for a named optimizer and schedule (cached, so equal
    configurations share one compiled epoch)."""
    if isinstance(optimizer, optax.GradientTransformation):
        return make_optimizer(optimizer, clip_norm=clip_norm), None
    sched = make_schedule(schedule, lr, total_steps=total_steps, warmup_steps=warmup_steps)
    opt = make_optimizer(
        optimizer, sched, weight_decay=weight_decay, clip_norm=clip_norm, momentum=momentum
    )
    return opt, sched


def _check_epoch_args(epochs, batch_size, n_train, checkpoint_every, patience):
    epochs = checks.check_positive_int(epochs, "epochs")
    batch_size = checks.check_positive_int(batch_size, "batch_size")
    if batch_size > n_train:
        raise ValueError(
            f"batch_size ({batch_size}) must be at most the training set size ({n_train}); "
            f"batch_size={n_train} is full-batch gradient descent."
        )
    if checkpoint_every is not None:
        checks.check_positive_int(checkpoint_every, "checkpoint_every")
    if patience is not None:
        checks.check_positive_int(patience, "early_stopping_patience")
    return epochs, batch_size


# --- the epoch loop shared by fit and fit_seeds ---------------------------------------------


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="epoch",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        leave=True,
    )


def _first_nonfinite(losses: np.ndarray) -> tuple[int, int] | None:
    """``(run, index)`` of the first non-finite loss in ``(runs, steps)``, or None."""
    bad = ~np.isfinite(losses)
    if not bad.any():
        return None
    runs = np.flatnonzero(bad.any(axis=1))
    r = int(runs[0])
    return r, int(np.flatnonzero(bad[r])[0])


def _monitor(splits: dict, loss) -> str:
    classification = isinstance(loss, str) and loss in (
        "softmax_cross_entropy",
        "binary_cross_entropy",
    )
    return "val_accuracy" if classification else "val_loss"


def _is_better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if metric.endswith("accuracy") else value < best


def _postfix(record: dict, runs: int | None) -> dict:
    keys = ("loss", "train_accuracy", "val_accuracy", "test_accuracy", "val_loss", "test_loss")
    out = {}
    for k in keys:
        if k in record:
            v = np.asarray(record[k], dtype=float)
            out[k.replace("accuracy", "acc")] = f"{float(np.mean(v)):.4g}"
        if len(out) >= 4:
            break
    return out


class _Loop:
    """The per-epoch Python loop over a compiled epoch, for one run or stacked runs."""

    def __init__(
        self,
        *,
        epoch_fn,
        eval_fn,
        splits,
        loss,
        epochs,
        n_batches,
        schedule,
        config,
        checkpoint_dir,
        checkpoint_every,
        resume,
        patience,
        callback,
        progress,
        runs,
        desc,
        eval_train=True,
    ):
        self.epoch_fn, self.eval_fn = epoch_fn, eval_fn
        self.splits, self.loss = splits, loss
        self.epochs, self.n_batches = epochs, n_batches
        self.schedule, self.config = schedule, config
        self.checkpoint_every, self.resume = checkpoint_every, resume
        self.patience, self.callback = patience, callback
        self.progress, self.runs, self.desc = progress, runs, desc
        self.eval_train = eval_train
        self.monitor = _monitor(splits, loss) if patience is not None else None
        if patience is not None and "val" not in splits:
            raise ValueError(
                "early_stopping_patience needs a validation set: load the dataset with "
                "val_fraction > 0 (funcnn.data.load(name, val_fraction=0.1))."
            )
        if resume and checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir=.")
        self.checkpoint_dir = checkpoint_dir
        self.checkpointer = None  # opened in run(), while the programs compile

    def _resume(self, state, history):
        if self.checkpointer is None:
            if self.resume:
                raise ValueError("resume=True needs checkpoint_dir=.")
            return state, history, 0
        if not self.resume:
            existing = self.checkpointer.all_epochs()
            if existing:
                raise ValueError(
                    f"checkpoint_dir {self.checkpointer.directory} already holds checkpoints "
                    f"(epochs {existing}) of an earlier run; pass resume=True to continue it or "
                    "use an empty directory."
                )
            return state, history, 0
        epoch = self.checkpointer.latest_epoch()
        if epoch is None:
            return state, history, 0
        state, meta = self.checkpointer.restore(state, epoch)
        saved = meta.get("config", {})
        diff = sorted(
            k
            for k in set(saved) | set(self.config)
            if k not in _RESUME_FREE and saved.get(k) != self.config.get(k)
        )
        if diff:
            detail = "; ".join(
                f"{k}: saved {saved.get(k)!r}, now {self.config.get(k)!r}" for k in diff
            )
            raise ValueError(
                f"cannot resume from {self.checkpointer.directory}: its run used a different "
                f"configuration ({detail}). Use a new checkpoint directory or the same settings."
            )
        return state, meta["history"], int(epoch)

    def _save(self, epoch, state, history):
        if self.checkpointer is not None:
            self.checkpointer.save(epoch, state, {"history": history, "config": self.config})

    def run(self, state, placement=None, *, t0=None, pending=None):
        """Train from ``state`` (or the checkpoint to resume); ``pending`` is a future of the
        programs being compiled in the background, awaited before the first epoch."""
        if self.checkpoint_dir is not None:
            from funcnn.train.checkpoint import Checkpointer

            self.checkpointer = Checkpointer(self.checkpoint_dir)
        try:
            return self._run(state, placement, t0, pending)
        finally:
            if self.checkpointer is not None:
                self.checkpointer.close()

    def _run(self, state, placement, t0, pending):
        t0 = time.perf_counter() if t0 is None else t0
        history: dict[str, list] = {}
        state, history, start = self._resume(state, history)
        if placement is not None:
            state = placement(state)
        elapsed0 = history["time_s"][-1] if history.get("time_s") else 0.0
        best, best_epoch, best_params, bad_epochs, stopped = None, None, None, 0, False
        if self.monitor and history.get(self.monitor):
            for i, v in enumerate(history[self.monitor]):
                if _is_better(self.monitor, np.mean(v), best):
                    best, best_epoch = float(np.mean(v)), i + 1
            bad_epochs = start - best_epoch
        x_train, y_train = self.splits["train"]
        if pending is not None:
            pending.result()  # re-raises a compilation error
        last_saved = start if start else None
        lrs = None  # the learning rate of each epoch's last update, in one compiled call
        if self.schedule is not None:
            last_steps = np.arange(1, self.epochs + 1) * self.n_batches - 1
            lrs = np.broadcast_to(np.asarray(jax.jit(self.schedule)(last_steps)), last_steps.shape)
        bar = _progress(self.epochs, start, self.desc, self.progress)
        try:
            for epoch in range(start + 1, self.epochs + 1):
                state, metrics = self.epoch_fn(state, x_train, y_train)
                losses = np.asarray(metrics["loss"])  # (n_batches,) or (runs, n_batches)
                bad = _first_nonfinite(losses.reshape(-1, losses.shape[-1]))
                if bad is not None:
                    run, i = bad
                    step = (epoch - 1) * self.n_batches + i + 1
                    where = f" in run {run} ({self.runs[run]})" if self.runs else ""
                    kept = (
                        f"the last good checkpoint (epoch {last_saved}) in "
                        f"{self.checkpointer.directory} is intact"
                        if self.checkpointer is not None and last_saved
                        else "no checkpoint was written"
                    )
                    raise NonFiniteLossError(
                        f"non-finite training loss ({losses.reshape(-1, losses.shape[-1])[run, i]})"
                        f"{where} at epoch {epoch}, step {step} (batch {i + 1} of "
                        f"{self.n_batches}); training stopped and {kept}. Lower the learning "
                        "rate or clip gradients (clip_norm).",
                        epoch=epoch,
                        step=step,
                        run=run if self.runs else None,
                        history=history,
                        checkpoint_epoch=last_saved,
                    )
                record = {
                    "epoch": epoch,
                    "loss": _tolist(losses.mean(axis=-1)),
                    "grad_norm": _tolist(np.asarray(metrics["grad_norm"]).mean(axis=-1)),
                }
                if lrs is not None:
                    record["lr"] = float(lrs[epoch - 1])
                for split, (x, y) in self.splits.items():
                    if split == "train" and not self.eval_train:
                        continue
                    for k, v in self.eval_fn(state.params, x, y).items():
                        record[f"{split}_{k}"] = _tolist(np.asarray(v))
                record["time_s"] = elapsed0 + time.perf_counter() - t0
                for k, v in record.items():
                    history.setdefault(k, []).append(v)
                bar.set_postfix(_postfix(record, self.runs), refresh=False)
                bar.update(1)

                if self.monitor:
                    value = float(np.mean(record[self.monitor]))
                    if _is_better(self.monitor, value, best):
                        best, best_epoch, bad_epochs = value, epoch, 0
                        best_params = jax.tree.map(jnp.copy, state.params)
                    else:
                        bad_epochs += 1
                    stopped = bad_epochs >= self.patience
                saved = False
                if self.checkpointer is not None and (
                    epoch == self.epochs
                    or stopped
                    or (self.checkpoint_every and epoch % self.checkpoint_every == 0)
                ):
                    self._save(epoch, state, history)
                    last_saved, saved = epoch, True
                if self.callback is not None and self.callback(epoch, state, history):
                    stopped = True
                    if self.checkpointer is not None and not saved:
                        self._save(epoch, state, history)
                        last_saved = epoch
                if stopped:
                    break
        finally:
            bar.close()
        params = state.params
        if best_params is not None:
            params = best_params
        elif self.monitor and best_epoch is not None and best_epoch != len(history["epoch"]):
            # Resumed after the best epoch: the best params are not in memory.
            best_epoch = len(history["epoch"])
        extra = {}
        if not self.eval_train and history.get("epoch"):  # the training set, once, at the end
            for k, v in self.eval_fn(params, x_train, y_train).items():
                extra[f"train_{k}"] = _tolist(np.asarray(v))
        wall = time.perf_counter() - t0
        return state, params, history, wall, best_epoch, stopped and self.monitor is not None, extra


def precompile(jobs) -> Any:
    """Compile ``[(jitted, args), ...]`` in background threads; returns a future.

    ``jitted.lower(*args).compile()`` fills the jit's cache, so the first real call only
    traces. XLA compiles with the GIL released, so the first job (the epoch, the largest)
    and the others (in a second thread) overlap with each other and with the eager work of
    the main thread (drawing the initial params, opening the checkpoint directory).
    """
    from concurrent.futures import ThreadPoolExecutor

    def work(part):
        for jitted, args in part:
            jitted.lower(*args).compile()

    parts = [p for p in (jobs[:1], jobs[1:]) if p]
    executor = ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="funcnn-compile")
    futures = [executor.submit(work, p) for p in parts]
    executor.shutdown(wait=False)

    class _All:
        def result(self):
            for f in futures:
                f.result()

    return _All()


# Settings that may change between an interrupted run and its resumption.
_RESUME_FREE = {"progress", "checkpoint_every", "checkpoint_dir", "early_stopping_patience"}


def _tolist(a):
    a = np.asarray(a)
    return a.item() if a.ndim == 0 else a.tolist()


def _final(history: dict) -> dict:
    return {k: v[-1] for k, v in history.items() if v}


# --- fit ------------------------------------------------------------------------------------


def fit(
    model,
    dataset,
    *,
    loss=None,
    optimizer="adam",
    lr=1e-3,
    schedule="constant",
    epochs: int = 10,
    batch_size: int = 128,
    seed: int = 0,
    data_seed: int | None = None,
    grad: str = "autodiff",
    weight_decay=0.0,
    l2=0.0,
    l1=0.0,
    clip_norm=None,
    momentum=0.9,
    warmup_steps: int = 0,
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    early_stopping_patience: int | None = None,
    mesh=None,
    callback: Callable | None = None,
    eval_train: bool = True,
    progress: bool = True,
    dtype=jnp.float32,
) -> FitResult:
    """Train ``model`` on ``dataset`` with minibatch gradient steps, one compiled call per epoch.

    Args:
        model: a funcnn model (``funcnn.mlp(...)``, ``funcnn.softmax_regression(...)``, ...).
        dataset: a ``funcnn.data.Dataset`` (``x_train (n, d)``, ``y_train``, ``x_test``,
            ``y_test``, ``n_classes``, optional ``x_val``/``y_val``) or a name for
            ``funcnn.data.load``.
        loss: a name from ``funcnn.losses.LOSSES``; default inferred (:func:`infer_loss`):
            "mse" for regression, "binary_cross_entropy" for 2 classes and 1 output,
            "softmax_cross_entropy" otherwise.
        optimizer: a name from ``OPTIMIZERS`` or an ``optax.GradientTransformation`` (which
            carries its own learning rate: ``lr``, ``schedule``, ``weight_decay`` and
            ``momentum`` are then not used).
        lr: base learning rate eta; ``schedule`` (a name from ``SCHEDULES``) shapes it over
            the ``epochs * (n_train // batch_size)`` updates, after ``warmup_steps``.
        epochs: number of passes over the training set.
        batch_size: minibatch size B (1: single-sample SGD; n_train: full-batch GD). Each
            epoch uses ``n_train // B`` full batches of a fresh permutation.
        seed: ``jax.random.key(seed)`` drives the init, the shuffling and dropout.
        data_seed: if given, the order of the training set in each epoch comes from
            ``jax.random.key(data_seed)`` instead of from ``seed`` (so runs with different
            seeds see the same batches).
        grad: "autodiff" (``jax.grad``) or "manual" (``funcnn.backprop``).
        weight_decay: decoupled weight decay lambda: ``w <- (1 - eta lambda) w - eta d``.
        l2, l1: penalties ``l2 * 1/2 ||w||^2 + l1 * ||w||_1`` added to the loss.
        clip_norm: clip gradients to this global norm (None: off).
        momentum: coefficient of the "momentum"/"nesterov" optimizers.
        checkpoint_dir: write orbax checkpoints here at the end and every
            ``checkpoint_every`` epochs.
        resume: continue from the last complete checkpoint in ``checkpoint_dir`` (if any);
            the run's configuration must match the saved one.
        early_stopping_patience: stop after this many epochs without improvement of the
            validation accuracy (classification) or loss (regression); needs a validation
            split; the returned params are those of the best epoch.
        mesh: a ``jax.sharding.Mesh`` (``funcnn.train.make_mesh()``) for data parallelism.
        callback: ``callback(epoch, state, history) -> bool``, called after each epoch (after
            its checkpoint); returning True stops training.
        eval_train: evaluate on the whole training set after each epoch (into the history);
            otherwise only once, at the end (into ``final``).
        progress: show a tqdm progress bar (stderr) with the loss and accuracies.
        dtype: float dtype of params and inputs (float64 needs ``jax.enable_x64``).

    Returns:
        :class:`FitResult` ``(params, history, state, wall_time_s, final, best_epoch,
        stopped_early, config)``.

    Raises:
        NonFiniteLossError: a step's loss was NaN or inf (names the epoch and step; the
            last checkpoint on disk is left intact).
    """
    t0 = time.perf_counter()
    data = _resolve_dataset(dataset)
    if loss is None:
        loss = infer_loss(model, getattr(data, "n_classes", None))
    _check_loss(loss, grad)
    _check_grad(grad)
    _check_penalty(l2, "l2")
    _check_penalty(l1, "l1")
    splits = _splits(data, model, loss, dtype)
    n_train = int(splits["train"][0].shape[0])
    epochs, batch_size = _check_epoch_args(
        epochs, batch_size, n_train, checkpoint_every, early_stopping_patience
    )
    if not isinstance(optimizer, optax.GradientTransformation):
        checks.check_choice(optimizer, OPTIMIZERS, "optimizer")
    n_batches = n_train // batch_size
    total_steps = schedule_total_steps(schedule, epochs * n_batches)
    opt, sched = build_optimizer(
        optimizer, lr, schedule, total_steps, warmup_steps, weight_decay, clip_norm, momentum
    )
    key = seed_key(seed)
    if mesh is not None:
        from funcnn.train.sharding import check_batch_divisible, replicate

        check_batch_divisible(batch_size, mesh)
        splits = {k: replicate(v, mesh) for k, v in splits.items()}
        placement = functools.partial(replicate, mesh=mesh)
    else:
        placement = None

    config = {
        "model": _model_config(model),
        "dataset": getattr(data, "name", None),
        "n_train": n_train,
        "loss": loss if isinstance(loss, str) else repr(loss),
        "optimizer": optimizer if isinstance(optimizer, str) else repr(optimizer),
        "lr": lr,
        "schedule": schedule,
        "warmup_steps": warmup_steps,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "data_seed": data_seed,
        "grad": grad,
        "weight_decay": weight_decay,
        "l2": l2,
        "l1": l1,
        "clip_norm": clip_norm,
        "momentum": momentum,
        "dtype": jnp.dtype(dtype).name,
        "devices": 1 if mesh is None else int(mesh.devices.size),
        "early_stopping_patience": early_stopping_patience,
        "checkpoint_every": checkpoint_every,
    }
    epoch_fn = make_epoch(
        model,
        loss,
        opt,
        batch_size=batch_size,
        grad=grad,
        l2=l2,
        l1=l1,
        mesh=mesh,
        data_seed=data_seed,
    )
    eval_fn = _jitted_eval(model, loss)
    loop = _Loop(
        epoch_fn=epoch_fn,
        eval_fn=eval_fn,
        splits=splits,
        loss=loss,
        epochs=epochs,
        n_batches=n_batches,
        schedule=sched,
        config=config,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        resume=resume,
        patience=early_stopping_patience,
        callback=callback,
        progress=progress,
        runs=None,
        desc=f"{getattr(model, 'kind', 'model')} on {getattr(data, 'name', 'data')}",
        eval_train=eval_train,
    )
    pending = None
    if mesh is None:  # compile the epoch and the evaluations while the params are drawn
        state_shapes = jax.eval_shape(lambda k: init_state(model, opt, k, dtype), key)
        jobs = [(epoch_fn, (state_shapes, *splits["train"]))]
        jobs += [(eval_fn, (state_shapes.params, *xy)) for xy in splits.values()]
        pending = precompile(jobs)
    state = init_state(model, opt, key, dtype)
    state, params, history, wall, best_epoch, stopped, extra = loop.run(
        state, placement, t0=t0, pending=pending
    )
    final = {**_final(history), **extra}
    return FitResult(params, history, state, wall, final, best_epoch, stopped, config)
