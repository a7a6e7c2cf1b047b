"""scikit-learn: ``MLPClassifier(solver="adam")``, one ``partial_fit`` per epoch over the
epoch's examples in funcnn's order (``shuffle=False``, the same batches), the test accuracy
from ``score``. It has no dropout, no decoupled weight decay (``alpha`` is an L2 penalty,
left at 0) and no schedule for Adam: it trains at the recipe's peak rate, constant. It has no
convolutional network."""

from __future__ import annotations

import numpy as np

from benchmarks.tta.common import Data, Monitor, Task, job_result

PACKAGES = ("scikit-learn",)
IMPORTS = ("sklearn.neural_network",)
HOW = (
    "MLPClassifier(solver='adam', alpha=0), partial_fit per epoch; no dropout, weight decay "
    "or schedule in sklearn (constant peak lr); seeds in turn"
)


def classifier(task: Task, layers: list[dict], seed: int):
    """An ``MLPClassifier`` of the recipe's sizes and Adam that starts from ``layers``."""
    from sklearn.neural_network import MLPClassifier

    weights = iter(layers)

    class FromInit(MLPClassifier):
        # sklearn draws each layer's (coef (n_in, n_out), intercept) in _init_coef
        def _init_coef(self, fan_in, fan_out, dtype):
            p = next(weights)
            return p["w"].astype(dtype), p["b"].astype(dtype)

    return FromInit(
        hidden_layer_sizes=tuple(int(p["w"].shape[1]) for p in layers[:-1]),
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=int(task.run["batch_size"]),
        learning_rate_init=float(task.run["lr"]),
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        shuffle=False,
        random_state=seed,
    )


def train(task: Task, data: Data, t0: float) -> dict:
    if task.model != "mlp":
        raise ValueError("scikit-learn has no convolutional network")
    classes = np.arange(data.n_classes)
    epochs = int(task.run["epochs"])
    results, n_params = [], None
    for i, seed in enumerate(task.seeds):
        clf = classifier(task, data.layers(i), seed)
        monitor = Monitor(seed, task.target, epochs, t0)
        for e in range(epochs):
            idx = data.orders[i, e]
            clf.partial_fit(data.x_train[idx], data.y_train[idx], classes=classes)
            if monitor.epoch(e + 1, clf.score(data.x_test, data.y_test)):
                break
        n_params = sum(w.size + b.size for w, b in zip(clf.coefs_, clf.intercepts_))
        results.append(monitor.result())
    return job_result(results, t0, int(n_params), HOW)
