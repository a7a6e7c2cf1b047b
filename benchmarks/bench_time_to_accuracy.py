"""time_to_accuracy: wall-clock time, compilation included, to reach a fixed MNIST-1D test
accuracy, with funcnn's engine and with an idiomatic training script in each peer library.

Every implementation trains the same network (funcnn's model of ``funcnn.train.MODELS``
with its recipe's options: the 256-256 ReLU MLP with dropout 0.3, or ``funcnn.cnn``'s
64-64-128-128 circular convolutions) with the same recipe of ``funcnn.train.RECIPES`` (AdamW,
decay on weights only, cosine schedule over the epochs bound, batch 128; the CNN's label
smoothing and augmentation), from funcnn's initial parameters of the same seed, on the same
batches in the same order (funcnn's permutation of each epoch, handed to every script). Each
evaluates the test accuracy after every epoch and stops at the target (70% for the MLP, 90%
for the CNN) or at the recipe's epochs; the time runs from the start of training (libraries
imported, data in host memory) to the evaluation that reached the target. Each job runs in a
fresh process (:mod:`benchmarks.tta.worker`), the implementations of a round in a rotating
order, and the records give medians over rounds.

With several seeds, funcnn trains them in one vmapped program (``fit_seeds``) until every
seed has reached the target; each peer trains them one after another in one process (the
time: until the last seed reached it). Where the library cannot follow the recipe the record
says so: scikit-learn's ``MLPClassifier`` has no dropout, no decoupled weight decay and no
schedule for Adam, and no convolutional network at all (its CNN row says why it is absent).
Same work: every script's parameter count must equal funcnn's (asserted).

    python -m benchmarks --only time_to_accuracy                 # quick: MLP x1, x8; CNN x1
    python -m benchmarks --only time_to_accuracy --suite full    # and the CNN x8
    python -m benchmarks --only time_to_accuracy --suite smoke   # tiny: checks the machinery
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.records import device_info, make_record, workload
from benchmarks.same_work import WorkMismatchError
from benchmarks.timing import Timing, progress_bar, round_orders
from benchmarks.tta.common import Data, Task, flatten_layers, save_data

NAME = "time_to_accuracy"
BASELINE = "funcnn"
IMPLS: dict[str, tuple[str, ...]] = {
    "funcnn": (),
    "flax_nnx": ("flax",),
    "equinox": ("equinox",),
    "torch": ("torch",),
    "sklearn": ("scikit-learn",),
}
"""Implementation -> the distributions it needs (its records carry their versions)."""
IMPORT_NAMES = {"flax": "flax", "equinox": "equinox", "torch": "torch", "scikit-learn": "sklearn"}
NO_CNN = {"sklearn": "scikit-learn has no convolutional network (MLPClassifier only)"}
TARGETS = {"mlp": 0.70, "cnn": 0.90}

CONFIGS = {
    ("quick", "cpu"): {
        "rows": [("mlp", 1, 3), ("mlp", 8, 1), ("cnn", 1, 3)],
        "timeout_s": 1800,
    },
    ("full", "cpu"): {
        "rows": [("mlp", 1, 5), ("mlp", 8, 3), ("cnn", 1, 3), ("cnn", 8, 1)],
        "timeout_s": 7200,
    },
    ("quick", "accel"): {
        "rows": [("mlp", 1, 3), ("mlp", 8, 3), ("cnn", 1, 3), ("cnn", 8, 1)],
        "timeout_s": 1800,
    },
    ("full", "accel"): {
        "rows": [("mlp", 1, 5), ("mlp", 8, 3), ("cnn", 1, 5), ("cnn", 8, 3)],
        "timeout_s": 3600,
    },
}
"""``rows``: ``(model, seeds, repeats)``; ``timeout_s``: the most one job may take."""
SMOKE = {
    "rows": [("mlp", 1, 1), ("mlp", 2, 1), ("cnn", 1, 1)],
    "timeout_s": 300,
    "dataset": "synthetic",
    "targets": {"mlp": 0.85, "cnn": 0.5},
    "options": {
        "mlp": {"hidden": (16, 16)},
        "cnn": {"channels": (8, 16), "strides": (1, 2)},
    },
    "run": {"epochs": 3, "batch_size": 32},
    # the MLP row without augmentation, so that its target is reachable in 3 epochs and every
    # implementation computes the same updates; the CNN row keeps the recipe's augmentation
    "model_run": {"mlp": {"augment": None}},
}
"""Tiny sizes and a reachable target on a small synthetic problem: checks the machinery."""


# --- the data every implementation reads ---------------------------------------------------


def synthetic(seed: int = 0):
    """A small MNIST-1D-shaped problem as a ``funcnn.data.Dataset``: 40 samples of a sine
    whose frequency is the class (4 classes) in unit white noise; 384 training and 128 test
    examples."""
    from funcnn.data import Dataset

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 512).astype(np.int32)
    wave = np.sin(2 * np.pi * (y[:, None] + 1) * np.arange(40) / 20)
    x = (rng.normal(size=(512, 40)) + wave).astype(np.float32)
    return Dataset(x[:384], y[:384], x[384:], y[384:], 4, "synthetic")


def load_dataset(name: str):
    if name == "synthetic":
        return synthetic()
    from funcnn.data import load

    return load(name)


def recipe(model: str, cfg: dict) -> tuple[dict, dict]:
    """``(model options, run fields)``: funcnn's recipe for ``model`` with the
    configuration's overrides (``run`` for every model, then ``model_run[model]``), the
    augmentation as a plain dict."""
    from funcnn.train.registry import RECIPES, model_options

    options = model_options(model, cfg.get("options", {}).get(model))
    run = {**RECIPES[model].run, **cfg.get("run", {}), **cfg.get("model_run", {}).get(model, {})}
    if run.get("augment") is not None:
        run["augment"] = run["augment"].to_config()
    return options, run


def data_order(seed: int, epochs: int, n: int, batch_size: int) -> np.ndarray:
    """funcnn's order of the training examples in each epoch of run ``seed``: the
    permutation of ``shuffle_key(run_key, e)`` (``run_key``: the second half of
    ``jax.random.key(seed)``'s split, as ``init_params`` makes it), the partial last batch
    dropped. ``(epochs, (n // batch_size) * batch_size)`` int32."""
    import jax

    from funcnn.data import permutation
    from funcnn.train.state import shuffle_key

    run_key = jax.random.split(jax.random.key(seed))[1]
    used = (n // batch_size) * batch_size
    perms = jax.vmap(lambda e: permutation(shuffle_key(run_key, e), n))(np.arange(epochs))
    return np.asarray(perms)[:, :used].astype(np.int32)


def make_data(model_name: str, seeds: Sequence[int], ds, options: dict, run: dict):
    """``(Data, funcnn's model, its parameter count)`` for one row."""
    import jax

    import funcnn
    from funcnn.train.registry import build_model
    from funcnn.train.state import init_params

    model = build_model(model_name, ds, options)
    inits = [init_params(model, jax.random.key(s))[0] for s in seeds]
    n, B, epochs = len(ds.x_train), int(run["batch_size"]), int(run["epochs"])
    data = Data(
        np.asarray(ds.x_train, np.float32),
        np.asarray(ds.y_train, np.int32),
        np.asarray(ds.x_test, np.float32),
        np.asarray(ds.y_test, np.int32),
        np.stack([data_order(s, epochs, n, B) for s in seeds]),
        [flatten_layers(p) for p in inits],
    )
    return data, model, funcnn.param_count(inits[0])


# --- running the jobs ----------------------------------------------------------------------


def missing(impl: str) -> str | None:
    """Why ``impl`` cannot run here (a library not installed), or None."""
    import importlib.util

    for package in IMPLS[impl]:
        if importlib.util.find_spec(IMPORT_NAMES[package]) is None:
            return f"{package} is not installed"
    return None


def run_job(task: Task, workdir: str, timeout_s: float) -> dict:
    """Run ``task`` in a fresh Python process; its result, with ``process_s`` (the process's
    wall time seen from here: interpreter start, imports, data, training)."""
    import time

    path = os.path.join(workdir, f"{task.impl}.task.json")
    with open(path, "w") as f:
        json.dump(task.to_json(), f)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.tta.worker", path],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    process_s = time.perf_counter() - t0
    if proc.returncode != 0 or not os.path.exists(task.out):
        raise RuntimeError(f"{task.impl} failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    with open(task.out) as f:
        result = json.load(f)
    os.remove(task.out)
    return {**result, "process_s": process_s}


def job_time(result: dict) -> float:
    """The time a job stands for: to the target where reached, else its whole training."""
    return result["time_to_target_s"] if result["reached"] else result["train_s"]


def median_of(results: list[dict], key, default=None):
    values = [v for v in (key(r) for r in results) if v is not None]
    return float(np.median(values)) if values else default


def summary(results: list[dict]) -> dict[str, Any]:
    """The record fields of an implementation's jobs (one per round)."""
    times = [job_time(r) for r in results]
    mid = results[int(np.argsort(times)[len(times) // 2])]  # the median round's job
    seeds = [s for r in results for s in r["seeds"]]
    return {
        "reached": all(r["reached"] for r in results),
        "reached_rounds": sum(r["reached"] for r in results),
        "best_accuracy": median_of(results, lambda r: r["best_accuracy"]),
        "epochs_to_target": median_of(
            results,
            lambda r: max(s["epochs_to_target"] for s in r["seeds"]) if r["reached"] else None,
        ),
        "first_epoch_s": median_of(seeds, lambda s: s["first_epoch_s"]),
        "epoch_s": median_of(seeds, lambda s: s["epoch_s"]),
        "train_s": median_of(results, lambda r: r["train_s"]),
        "process_s": median_of(results, lambda r: r["process_s"]),
        "import_s": median_of(results, lambda r: r["import_s"]),
        "param_count": results[0]["param_count"],
        "how": results[0]["how"],
        "curves": [s["curve"] for s in mid["seeds"]],
    }


def compare_row(
    model_name: str,
    n_seeds: int,
    repeats: int,
    *,
    cfg: dict,
    ds,
    impls: Sequence[str],
    device,
    progress: bool = True,
) -> list[dict]:
    """Every available implementation on one row (a model, a number of seeds), ``repeats``
    rounds of fresh processes; one record per implementation that ran (funcnn's lists the
    absent ones, and why, under ``skipped``)."""
    options, run = recipe(model_name, cfg)
    target = float(cfg.get("targets", TARGETS)[model_name])
    seeds = tuple(range(n_seeds))
    skipped: dict[str, str] = {}
    names: list[str] = []
    for impl in impls:
        why = NO_CNN.get(impl) if model_name == "cnn" else None
        why = why or missing(impl)
        if why:
            skipped[impl] = why
        else:
            names.append(impl)
    mode = "single" if n_seeds == 1 else None
    label = f"{model_name} x{n_seeds}"
    results: dict[str, list[dict]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="funcnn-tta-") as workdir:
        data, _, n_params = make_data(model_name, seeds, ds, options, run)
        data_path = os.path.join(workdir, "data.npz")
        save_data(data_path, data)
        jobs = [(r, n) for r, order in enumerate(round_orders(names, repeats)) for n in order]
        for r, impl in progress_bar(jobs, desc=f"{NAME} {label}", enabled=progress):
            if impl not in results:
                continue  # failed in an earlier round
            task = Task(
                impl,
                model_name,
                dict(options),
                dict(run),
                target,
                seeds,
                mode or ("vmap" if impl == BASELINE else "sequential"),
                data_path,
                os.path.join(workdir, f"{impl}.{r}.json"),
            )
            try:
                out = run_job(task, workdir, cfg["timeout_s"])
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                if impl == BASELINE:
                    raise
                skipped[impl] = f"{type(e).__name__}: {e}"[:600]
                results.pop(impl)
                continue
            if "unavailable" in out:
                skipped[impl] = out["unavailable"]
                results.pop(impl)
                continue
            if out["param_count"] != n_params:
                raise WorkMismatchError(
                    f"{impl} trains {out['param_count']} parameters on {label}; funcnn's "
                    f"model has {n_params}. They do not train the same network."
                )
            results[impl].append(out)
            state = f"{job_time(out):.1f} s" if out["reached"] else "not reached"
            print(
                f"[{NAME}] {label} round {r + 1}: {impl:9s} {state} (best acc "
                f"{out['best_accuracy']:.3f}, process {out['process_s']:.1f} s)"
            )
    widths = options["hidden"] if model_name == "mlp" else options["channels"]
    sizes = [ds.x_train.shape[1], *widths, int(ds.n_classes)]
    work = workload(
        model_name,
        sizes,
        int(run["batch_size"]),
        "float32",
        dataset=ds.name,
        n_train=len(ds.x_train),
        target=target,
        seeds=n_seeds,
        options=options,
        recipe=run,
        params=n_params,
    )
    base = summary(results[BASELINE])
    base_t = Timing(tuple(job_time(r) for r in results[BASELINE]))
    records = []
    for impl, rs in results.items():
        t = Timing(tuple(job_time(r) for r in rs))
        s = summary(rs)
        both = s["reached"] and base["reached"]
        ratio = {"ratio": t.median / base_t.median, "baseline": BASELINE} if both else {}
        records.append(
            make_record(
                NAME,
                impl,
                work,
                t,
                compile_s=None,
                device=device,
                packages=IMPLS[impl],
                unit="run",
                mode=mode or ("vmap" if impl == BASELINE else "sequential"),
                **ratio,
                **s,
            )
        )
    if skipped:
        records[0]["skipped"] = skipped
    return records


def run(
    quick: bool = True,
    *,
    config: dict | None = None,
    impls: Sequence[str] | None = None,
    progress: bool = True,
) -> list[dict]:
    """Time to the target accuracy for every row of the configuration.

    Args:
        quick: the quick suite's rows (else the full suite's).
        config: override ``{"rows": [(model, seeds, repeats)], "timeout_s", "dataset",
            "targets", "options", "run"}`` (tests use :data:`SMOKE`).
        impls: the implementations to run (default all of :data:`IMPLS`; funcnn always).
    """
    from benchmarks.workloads import suite_config

    cfg = dict(config or suite_config(CONFIGS, quick))
    impls = [BASELINE] + [n for n in (impls or IMPLS) if n != BASELINE]
    unknown = [n for n in impls if n not in IMPLS]
    if unknown:
        raise ValueError(f"unknown implementations {unknown}; valid: {list(IMPLS)}.")
    ds = load_dataset(cfg.get("dataset", "mnist1d"))
    device = device_info()
    records: list[dict] = []
    for model_name, n_seeds, repeats in cfg["rows"]:
        records += compare_row(
            model_name,
            int(n_seeds),
            int(repeats),
            cfg=cfg,
            ds=ds,
            impls=impls,
            device=device,
            progress=progress,
        )
    return records


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.records import script_main

    return script_main(run, "Time to a test accuracy: funcnn and its peers.", argv)


if __name__ == "__main__":
    raise SystemExit(main())
