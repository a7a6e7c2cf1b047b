"""What every time-to-accuracy training script shares: the task it is given, the data and the
data order it reads, the recipe's learning rate, the clock and the per-epoch monitor.

A worker process (:mod:`benchmarks.tta.worker`) reads a :class:`Task` (JSON), loads the
:class:`Data` the harness wrote (MNIST-1D as ``funcnn.data.load`` standardizes it, funcnn's
initial parameters of every seed, and funcnn's data order of every seed and epoch), trains
with one library and writes what :class:`Monitor` saw. Nothing here imports a deep-learning
library: a peer's script imports only its own.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Task:
    """One training job of one implementation, as the harness hands it to a worker.

    Attributes:
        impl: the implementation ("funcnn", "flax_nnx", "equinox", "torch", "sklearn").
        model: "mlp" or "cnn" (a model of ``funcnn.train.MODELS``).
        options: the model's options (``funcnn.train.RECIPES[model].model`` over the
            workload's overrides): ``hidden``/``dropout`` or ``channels``/``strides``/...
        run: the recipe: ``optimizer`` ("adamw"), ``lr``, ``weight_decay`` (decoupled, on
            weights only), ``schedule`` ("cosine" to 0 over ``epochs``), ``epochs`` (the upper
            bound), ``batch_size``, ``label_smoothing``, ``augment`` (``{"shift", "scale",
            "noise"}`` or None), ``clip_norm``, ``grad`` (funcnn's).
        target: the test accuracy to reach.
        seeds: the runs' seeds; several: funcnn vmaps them (``fit_seeds``), a peer trains
            them its own way (``mode``).
        mode: "single", "vmap" or "sequential".
        data: path of the ``.npz`` :class:`Data` file.
        out: where the worker writes its JSON result.
    """

    impl: str
    model: str
    options: dict[str, Any]
    run: dict[str, Any]
    target: float
    seeds: tuple[int, ...]
    mode: str
    data: str
    out: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Task:
        return cls(**{**d, "seeds": tuple(d["seeds"])})


@dataclasses.dataclass(frozen=True)
class Data:
    """The arrays every implementation trains on.

    Attributes:
        x_train, y_train, x_test, y_test: float32 inputs (standardized with training
            statistics), int32 labels.
        orders: int32 ``(seeds, epochs, n_batches * batch_size)``: the training examples of
            each epoch of each seed, in funcnn's order (its permutation, the partial last
            batch dropped).
        init: per seed, funcnn's initial parameters flattened as ``"layer/name" -> array``
            (funcnn's layouts: dense ``w (n_in, n_out)``, convolution ``w (k, c_in, c_out)``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    orders: np.ndarray
    init: list[dict[str, np.ndarray]]

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)

    def layers(self, i: int) -> list[dict[str, np.ndarray]]:
        """Seed ``i``'s initial parameters as funcnn's list of ``{"w", "b"}`` layers."""
        flat = self.init[i]
        n = 1 + max(int(k.split("/")[0]) for k in flat)
        return [{"w": flat[f"{j}/w"], "b": flat[f"{j}/b"]} for j in range(n)]


def save_data(path: str, data: Data) -> None:
    """Write ``data`` as one ``.npz`` (atomically: a temporary name, then a rename)."""
    import os

    arrays = {
        "x_train": data.x_train,
        "y_train": data.y_train,
        "x_test": data.x_test,
        "y_test": data.y_test,
        "orders": data.orders,
    }
    for i, flat in enumerate(data.init):
        arrays.update({f"init{i}:{k}": v for k, v in flat.items()})
    tmp = f"{path}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_data(path: str) -> Data:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    n_seeds = arrays["orders"].shape[0]
    init = [
        {k.split(":", 1)[1]: v for k, v in arrays.items() if k.startswith(f"init{i}:")}
        for i in range(n_seeds)
    ]
    return Data(
        arrays["x_train"],
        arrays["y_train"],
        arrays["x_test"],
        arrays["y_test"],
        arrays["orders"],
        init,
    )


def flatten_layers(layers: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """funcnn's ``[{"w", "b"}, ...]`` as ``{"0/w": ..., "0/b": ..., ...}`` NumPy arrays."""
    return {f"{j}/{k}": np.asarray(v) for j, layer in enumerate(layers) for k, v in layer.items()}


def cosine_lr(run: dict[str, Any], n_batches: int):
    """The recipe's rate at update ``k``: ``lr (1 + cos(pi k / T)) / 2`` with ``T = epochs x
    n_batches`` (optax.cosine_decay_schedule, as funcnn builds it), constant without one."""
    lr, total = float(run["lr"]), int(run["epochs"]) * int(n_batches)
    if run.get("schedule", "constant") == "constant":
        return lambda k: lr
    if run["schedule"] != "cosine" or run.get("warmup_steps", 0):
        raise ValueError(f"the peers implement the cosine schedule only; got {run['schedule']!r}")
    return lambda k: lr * 0.5 * (1.0 + math.cos(math.pi * min(k, total) / total))


def param_count(arrays) -> int:
    """The number of scalars in a collection of arrays."""
    return int(sum(int(np.prod(np.shape(a))) for a in arrays))


class Monitor:
    """The clock and the per-epoch test accuracies of one seed's run.

    ``epoch(e, acc)`` records epoch ``e``'s test accuracy at the current time and answers
    whether to stop (the target reached, or the epochs bound); ``result()`` is the seed's
    summary. Times count from ``t0``, the start of the job's training (data in host memory,
    library imported; device transfer, initialization and compilation are inside).
    """

    def __init__(self, seed: int, target: float, max_epochs: int, t0: float):
        self.seed, self.target, self.max_epochs, self.t0 = seed, target, max_epochs, t0
        self.start = time.perf_counter() - t0
        self.curve: list[tuple[int, float, float]] = []
        self.reached_at: tuple[int, float] | None = None

    def epoch(self, e: int, accuracy: float) -> bool:
        t = time.perf_counter() - self.t0
        self.curve.append((int(e), t, float(accuracy)))
        if self.reached_at is None and accuracy >= self.target:
            self.reached_at = (int(e), t)
        return self.reached_at is not None or e >= self.max_epochs

    def result(self) -> dict[str, Any]:
        accs = [a for _, _, a in self.curve]
        times = [t for _, t, _ in self.curve]
        epoch_s = np.diff([self.start, *times]) if times else np.array([])
        return {
            "seed": self.seed,
            "reached": self.reached_at is not None,
            "epochs_to_target": None if self.reached_at is None else self.reached_at[0],
            "time_to_target_s": None if self.reached_at is None else self.reached_at[1],
            "best_accuracy": max(accs) if accs else None,
            "epochs": len(self.curve),
            "first_epoch_s": float(epoch_s[0]) if len(epoch_s) else None,
            "epoch_s": float(np.median(epoch_s[1:])) if len(epoch_s) > 1 else None,
            "curve": self.curve,
        }


def job_result(seed_results: list[dict], t0: float, param_count: int, how: str) -> dict:
    """The job's summary over its seeds (:meth:`Monitor.result` each): reached when every
    seed reached the target; the time is when the last one did (a sequential loop: the sum
    of the seeds' runs), or the end of training where some seed did not."""
    reached = all(r["reached"] for r in seed_results)
    return {
        "reached": reached,
        "time_to_target_s": max(r["time_to_target_s"] for r in seed_results) if reached else None,
        "train_s": time.perf_counter() - t0,
        "best_accuracy": min(r["best_accuracy"] for r in seed_results),
        "seeds": seed_results,
        "param_count": int(param_count),
        "how": how,
    }
