"""``train_and_evaluate(config, workdir)``: the work of ``funcnn train``, importable.

A :class:`JobConfig` names a dataset and a model (:mod:`funcnn.train.registry`), with the
model's options and a :class:`~funcnn.train.config.RunConfig` (both default to the model's
recipe). :func:`train_and_evaluate` loads the data, builds the model, trains it (``fit``, or
``fit_seeds`` for several seeds; data-parallel over ``devices``) and writes into ``workdir``:

* ``metrics.json``: status, configuration, provenance (versions and device), per-epoch
  history, final metrics, wall time (also when training stops on a non-finite loss);
* ``learning_curves.png`` (unless ``plot`` is off);
* ``checkpoints/``: orbax checkpoints of the run (resumable).

Under several processes (``jax.distributed``, :mod:`funcnn.train.distributed`) every process
calls it with the same configuration and workdir (a folder they all see): the run is
data-parallel over every device of every process, process 0 writes ``metrics.json`` and the
plot, and all of them write the checkpoints together.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import jax

from funcnn import checks, compile_cache
from funcnn.io import provenance, to_jsonable, write_json
from funcnn.train import distributed
from funcnn.train.config import RunConfig, run_config
from funcnn.train.fit import FitResult, fit
from funcnn.train.io import plot_history
from funcnn.train.loop import NonFiniteLossError
from funcnn.train.registry import RECIPES, build_model, model_options
from funcnn.train.seeds import SeedsResult, fit_seeds
from funcnn.train.sharding import make_mesh


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """What ``train_and_evaluate`` trains, on what, and how.

    Attributes:
        model: a name of :data:`funcnn.train.registry.MODELS`.
        dataset: a name of ``funcnn.data.DATASETS``.
        model_options: options of the model over its recipe's (e.g. ``{"hidden": (32,)}``).
        run: a :class:`RunConfig` (used as is), or a mapping of its fields over the model's
            recipe (:data:`funcnn.train.registry.RECIPES`), or None for the recipe. Its
            ``checkpoint_dir`` and ``resume`` are set by ``train_and_evaluate``.
        devices: data-parallel over this many devices, 0 for all (one seed only). Under
            several processes the run always spans every device of every process: 1 (the
            default), 0 and that number mean the same.
        val_fraction: hold out this fraction of the training set for validation.
        cache_dir: where MNIST-1D is cached (None: ``$FUNCNN_CACHE`` or ``~/.cache/funcnn``).
        plot: write ``learning_curves.png``.
        resume: continue from the last complete checkpoint in ``workdir``.
        overwrite: delete the checkpoints of an earlier run in ``workdir`` and start afresh.
    """

    model: str = "mlp"
    dataset: str = "mnist1d"
    model_options: Mapping[str, Any] | None = None
    run: RunConfig | Mapping[str, Any] | None = None
    devices: int = 1
    val_fraction: float = 0.0
    cache_dir: str | None = None
    plot: bool = True
    resume: bool = False
    overwrite: bool = False

    def __post_init__(self):
        options = MappingProxyType(model_options(self.model, self.model_options))
        object.__setattr__(self, "model_options", options)
        run = self.run
        if run is None or isinstance(run, Mapping):
            run = run_config(None, {**RECIPES[self.model].run, **(run or {})}, "JobConfig.run")
        elif not isinstance(run, RunConfig):
            raise TypeError(f"run must be a RunConfig or a mapping; got {type(run).__name__}.")
        if run.checkpoint_dir is not None or run.resume:
            raise ValueError(
                "run.checkpoint_dir and run.resume are set by train_and_evaluate (checkpoints "
                "go to workdir/checkpoints); use JobConfig(resume=True) to resume."
            )
        object.__setattr__(self, "run", run)
        checks.check_nonnegative_int(self.devices, "devices")
        checks.check_fraction(self.val_fraction, "val_fraction")
        if self.devices != 1 and run.seeds is not None:
            raise ValueError(
                "several seeds train on one device; use devices=1 (or train one seed)."
            )
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other.")

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-able values (``run`` as :meth:`RunConfig.to_dict`)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["model_options"] = dict(self.model_options)
        out["run"] = self.run.to_dict()
        return to_jsonable(out)


class JobResult(NamedTuple):
    """What :func:`train_and_evaluate` returns.

    Attributes:
        result: the :class:`~funcnn.train.FitResult` (one seed) or
            :class:`~funcnn.train.SeedsResult` (several).
        model: the model trained.
        dataset: the dataset's name.
        final: the final metrics; for several seeds also ``{name}_mean``/``{name}_std`` over
            the runs and, for more than two classes, ``ensemble_test_accuracy`` (the runs'
            averaged softmax probabilities).
        metrics: what ``metrics.json`` holds.
    """

    result: FitResult | SeedsResult
    model: Any
    dataset: str
    final: dict[str, Any]
    metrics: dict[str, Any]


def ensemble_accuracy(model, params, x, y) -> float | None:
    """Accuracy of the average of stacked runs' softmax probabilities (None unless ``y``
    holds integer labels and the model has at least two outputs)."""
    import jax.numpy as jnp

    from funcnn.ops import softmax

    y = jnp.asarray(y)
    if y.ndim != 1:
        return None
    logits = jax.vmap(lambda p: model.apply(p, jnp.asarray(x)))(params)  # (runs, n, q)
    if logits.shape[-1] < 2:
        return None
    probs = jnp.mean(softmax(logits, axis=-1), axis=0)
    return float(jnp.mean(jnp.argmax(probs, axis=1) == y))


def seeds_summary(final: Mapping[str, Any]) -> dict[str, float]:
    """``{name}_mean`` and ``{name}_std`` of every per-run metric ``(runs,)``."""
    out = {}
    for k, v in final.items():
        if getattr(v, "ndim", 0) == 1:
            out[f"{k}_mean"] = float(v.mean())
            out[f"{k}_std"] = float(v.std())
    return out


def _claim(workdir: str, checkpoints: str, config: JobConfig) -> None:
    """Refuse (or, with ``overwrite``, clear) the checkpoints of an earlier run."""
    held = os.path.isdir(checkpoints) and bool(os.listdir(checkpoints)) and not config.resume
    if held and not config.overwrite:
        raise ValueError(
            f"{workdir} holds checkpoints of an earlier run: continue it with resume=True "
            "(funcnn train --resume), start afresh with overwrite=True (--overwrite), or use "
            "another workdir (--out)."
        )
    distributed.barrier("funcnn-claim-checked")  # every process has looked before any deletes
    if held and distributed.is_primary():
        shutil.rmtree(checkpoints)
    distributed.barrier("funcnn-claim-done")


def _load(config: JobConfig):
    """The dataset; under several processes process 0 loads it first (generating and caching
    MNIST-1D if needed, and saying so), then the others read its cache."""
    from funcnn.data import load

    def go():
        return load(config.dataset, cache_dir=config.cache_dir, val_fraction=config.val_fraction)

    if distributed.is_primary():
        data = go()
    distributed.barrier("funcnn-data-cached")
    return data if distributed.is_primary() else go()


def _write(path: str, record: dict) -> None:
    if distributed.is_primary():
        write_json(path, record)


def _import_plotting() -> None:
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401


def _train(model, data, config: JobConfig, checkpoints: str):
    run = config.run.replace(checkpoint_dir=checkpoints, resume=config.resume)
    if run.seeds is not None:
        return fit_seeds(model, data, config=run)
    mesh = None
    processes = distributed.process_count()
    if processes > 1:
        if config.devices not in (0, 1, len(jax.devices())):
            raise ValueError(
                f"devices={config.devices}: under {processes} processes a run spans every "
                f"device of every process ({len(jax.devices())}); use devices=0 (all)."
            )
        mesh = make_mesh()
    elif config.devices != 1:
        mesh = make_mesh(None if config.devices == 0 else config.devices)
    return fit(model, data, config=run, mesh=mesh)


def train_and_evaluate(config: JobConfig, workdir: str | os.PathLike) -> JobResult:
    """Train ``config.model`` on ``config.dataset`` and write the run into ``workdir``.

    Args:
        config: a :class:`JobConfig`.
        workdir: the run's folder (created): ``metrics.json``, ``learning_curves.png`` and
            ``checkpoints/``. Checkpoints of an earlier run there are an error unless
            ``config.resume`` (continue it) or ``config.overwrite`` (delete them).

    Returns:
        :class:`JobResult`.

    Raises:
        NonFiniteLossError: training stopped on a NaN or infinite loss (``metrics.json``
            then has status "non_finite", the epoch and step, and the history so far).
    """
    t0 = time.perf_counter()
    if not isinstance(config, JobConfig):
        raise TypeError(f"config must be a JobConfig; got {type(config).__name__}.")
    workdir = os.fspath(workdir)
    checkpoints = os.path.join(workdir, "checkpoints")
    metrics_path = os.path.join(workdir, "metrics.json")
    _claim(workdir, checkpoints, config)
    plot = config.plot and distributed.is_primary()
    if plot:  # import matplotlib while the model compiles and trains
        threading.Thread(target=_import_plotting, daemon=True).start()
    data = _load(config)
    model = build_model(config.model, data, config.model_options)
    try:
        result = _train(model, data, config, checkpoints)
    except NonFiniteLossError as e:
        record = {
            "status": "non_finite",
            "error": str(e),
            "epoch": e.epoch,
            "step": e.step,
            "config": config.to_dict(),
            **provenance(),
            "history": e.history or {},
            "last_checkpoint_epoch": e.checkpoint_epoch,
            "compile_cache": compile_cache.status(),
            "wall_time_s": time.perf_counter() - t0,
        }
        _write(metrics_path, record)
        raise
    final = dict(result.final)
    if isinstance(result, SeedsResult):
        if data.n_classes is not None and data.n_classes > 2:
            acc = ensemble_accuracy(model, result.params, data.x_test, data.y_test)
            if acc is not None:
                final["ensemble_test_accuracy"] = acc
        final.update(seeds_summary(final))
    files = {"metrics": metrics_path, "checkpoints": checkpoints}
    if plot:
        files["learning_curves"] = os.path.join(workdir, "learning_curves.png")
        options = ", ".join(f"{k}={v}" for k, v in config.model_options.items())
        title = f"{config.model}({options}) on {data.name}"
        plot_history(result.history, files["learning_curves"], title=title)
    record = {
        "status": "ok",
        "config": {**config.to_dict(), "run": result.config},
        **provenance(),
        "history": result.history,
        "final": final,
        "runs": getattr(result, "runs", None),
        "fit_time_s": result.wall_time_s,
        "compile_time_s": result.compile_time_s,
        "compile_cache": compile_cache.status(),
        "wall_time_s": time.perf_counter() - t0,
        "files": files,
    }
    _write(metrics_path, record)
    return JobResult(result, model, data.name, final, to_jsonable(record))
