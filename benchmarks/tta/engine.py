"""funcnn's engine: ``funcnn.train.fit`` (one seed) or ``fit_seeds`` (several, one vmapped
program) with the model's recipe, stopped by a callback once the test accuracy, evaluated
after every epoch, reaches the target."""

from __future__ import annotations

import numpy as np

from benchmarks.tta.common import Data, Monitor, Task, job_result

PACKAGES: tuple[str, ...] = ()
IMPORTS = ("funcnn", "funcnn.train", "optax")
HOW = {
    "single": "funcnn.train.fit(model, data, **recipe, callback=stop at target)",
    "vmap": "funcnn.train.fit_seeds(model, data, seeds, **recipe): every seed in one vmapped "
    "program, stopped when all reached the target",
}


def fit_options(task: Task) -> dict:
    """The recipe as ``fit`` keywords: the augmentation built, no progress bar, the training
    split evaluated once at the end only (the peers evaluate the test set alone)."""
    from funcnn.data import Augment

    run = dict(task.run)
    if run.get("augment"):
        run["augment"] = Augment(**run["augment"])
    return {**run, "progress": False, "eval_train": False}


def train(task: Task, data: Data, t0: float) -> dict:
    import funcnn
    from funcnn.data import Dataset
    from funcnn.train import fit, fit_seeds
    from funcnn.train.registry import build_model

    ds = Dataset(data.x_train, data.y_train, data.x_test, data.y_test, data.n_classes, "mnist1d")
    model = build_model(task.model, ds, task.options)
    epochs = int(task.run["epochs"])
    monitors = [Monitor(s, task.target, epochs, t0) for s in task.seeds]

    def callback(epoch, state, history):
        accs = np.atleast_1d(np.asarray(history["test_accuracy"][-1]))
        stops = [m.epoch(epoch, float(a)) for m, a in zip(monitors, accs)]
        return all(stops)

    if task.mode == "single":
        out = fit(model, ds, seed=task.seeds[0], callback=callback, **fit_options(task))
        n_params = funcnn.param_count(out.params)
    else:
        out = fit_seeds(model, ds, seeds=list(task.seeds), callback=callback, **fit_options(task))
        n_params = funcnn.param_count(out.params) // len(task.seeds)
    return job_result([m.result() for m in monitors], t0, n_params, HOW[task.mode])
