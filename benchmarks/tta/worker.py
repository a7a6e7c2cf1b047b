"""``python -m benchmarks.tta.worker TASK.json``: one training job in this (fresh) process.

Reads the :class:`~benchmarks.tta.common.Task`, imports the implementation's module and
the libraries it names (``IMPORTS``), loads the data into host memory, then starts the clock
and trains; writes the result (the implementation's summary, with ``import_s`` and
``load_s`` before the clock) to ``task.out``, atomically. A missing library is reported as
``{"unavailable": reason}``.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

from benchmarks.tta.common import Task, load_data  # noqa: E402

MODULES = {
    "funcnn": "engine",
    "flax_nnx": "flax",
    "equinox": "equinox",
    "torch": "torch",
    "sklearn": "sklearn",
}
"""Implementation -> its module in :mod:`benchmarks.tta`."""


def write(path: str, obj) -> None:
    """JSON to ``path`` through a temporary file and a rename (funcnn.io would import JAX
    into a peer's process)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    with open(argv[0]) as f:
        task = Task.from_json(json.load(f))
    module = importlib.import_module(f"benchmarks.tta.{MODULES[task.impl]}")
    try:
        for name in module.IMPORTS:  # before the clock, as a script's imports
            importlib.import_module(name)
    except ImportError as e:
        write(task.out, {"unavailable": f"{e}"})
        return 0
    t_import = time.perf_counter()
    data = load_data(task.data)
    t0 = time.perf_counter()
    result = module.train(task, data, t0)
    result.update(import_s=t_import - T_START, load_s=t0 - t_import)
    write(task.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
