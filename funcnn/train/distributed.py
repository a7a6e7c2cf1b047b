"""Training on several processes (hosts) with ``jax.distributed``: data parallelism over the
devices of every process.

**Launch.** Every process runs the same command with the same settings and its place in the
*layout*: the coordinator ``HOST:PORT`` (process 0's host and a free port), the number of
processes ``N`` and its own id ``I`` in ``0 .. N-1`` — from ``funcnn train --coordinator
HOST:PORT --num-processes N --process-id I``, from the environment (``JAX_COORDINATOR_ADDRESS``,
``JAX_NUM_PROCESSES``, ``JAX_PROCESS_ID``), or, under SLURM (``srun`` with several tasks),
Open MPI (``mpirun``) or on a multi-host Cloud TPU slice, from the cluster itself
(``jax.distributed.initialize()`` without arguments: JAX reads the layout from the cluster's
environment). :func:`initialize` does that, once, before JAX computes anything.

**A step.** The mesh (:func:`funcnn.train.make_mesh`) holds ``jax.devices()``: every device
of every process, process by process. Params and optimizer state are replicated; each
process computes the epoch's permutation (the same on every process: it comes from the
run's key) and feeds only its own rows of every global batch
(:class:`ProcessBatches`, ``jax.make_array_from_process_local_data``): process ``p`` of
``P``, each with ``D`` devices, feeds rows ``[p B/P, (p + 1) B/P)`` of every batch of size
``B``, split over its devices. So a global batch is the same examples in the same order as in
one process, and the losses and parameters equal those of one process with ``P x D``
devices up to the order of the floating-point additions in the cross-device gradient sum.
The evaluation sets are small and replicated on every device.

**Files.** Only process 0 writes ``metrics.json`` and the plots and prints; orbax writes the
checkpoints with every process taking part, so ``checkpoint_dir`` must be a folder that every
process sees (a shared filesystem across hosts). A resumed run restores the checkpoint on
every process.

**A bad layout** is an error, never a hang: the layout is checked before JAX is started
(missing or malformed values, a process id out of range), then processes meet at the
coordinator (:func:`rendezvous`): a process that cannot reach it, or process 0 waiting in
vain for the others, stops after ``timeout`` seconds with a message naming the coordinator
and the missing processes; the same timeout bounds ``jax.distributed.initialize``. A batch
size not divisible by the global number of devices is refused by ``fit`` on every process
before the first step, and processes that disagree on the configuration or the training
data stop before the first step too (:func:`check_same_run`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from typing import Any

import jax
import numpy as np

from funcnn.train.layout import (
    DEFAULT_TIMEOUT_S,
    ENV_COORDINATOR,
    ENV_NUM_PROCESSES,
    ENV_PROCESS_ID,
    FLAGS,
    MODES,
    DistributedError,
    Layout,
    detect_cluster,
    parse_coordinator,
    resolve_layout,
)
from funcnn.train.rendezvous import rendezvous

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ENV_COORDINATOR",
    "ENV_NUM_PROCESSES",
    "ENV_PROCESS_ID",
    "FLAGS",
    "MODES",
    "DistributedError",
    "Layout",
    "barrier",
    "broadcast_from_primary",
    "check_same_run",
    "detect_cluster",
    "initialize",
    "is_primary",
    "native_stdout",
    "parse_coordinator",
    "process_count",
    "process_index",
    "rendezvous",
    "resolve_layout",
    "spans_processes",
]


def initialize(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    mode: str = "auto",
    timeout: float = DEFAULT_TIMEOUT_S,
    environ=None,
) -> Layout | None:
    """Start ``jax.distributed`` for this process's layout (:func:`resolve_layout`).

    Call it first, before anything computes with JAX. With a complete layout the processes
    meet first (:func:`rendezvous`), then ``jax.distributed.initialize(coordinator,
    num_processes, process_id, initialization_timeout=timeout)``; with a cluster's layout
    (SLURM, Open MPI, Cloud TPU, or ``mode="on"``) ``jax.distributed.initialize()`` finds it
    itself. The backends of all processes are brought up before returning. Calling it again,
    or after the caller initialized ``jax.distributed``, changes nothing.

    Returns:
        the :class:`Layout`, or None for one process (no layout: nothing initialized).

    Raises:
        DistributedError: a bad layout or an unreachable coordinator (see the module
            docstring).
    """
    timeout = float(timeout)
    if not timeout > 0:
        raise DistributedError(f"the distributed timeout must be > 0 seconds; got {timeout}.")
    layout = resolve_layout(coordinator, num_processes, process_id, mode=mode, environ=environ)
    if layout is None or jax.distributed.is_initialized():
        return layout
    if layout.num_processes == 1:
        return None  # one process: a plain run
    if layout.complete:
        rendezvous(layout, timeout)
    if jax.config.jax_cpu_collectives_implementation in (None, "none"):
        # CPU devices of several processes need collectives between the processes: gloo
        # (over TCP) ships with jaxlib; a choice the user made is kept.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    seconds = max(1, int(round(timeout)))
    jax.distributed.initialize(
        layout.coordinator,
        layout.num_processes,
        layout.process_id,
        initialization_timeout=seconds,
        heartbeat_timeout_seconds=seconds,
        shutdown_timeout_seconds=seconds,
    )
    jax.devices()  # every process's backend comes up now, together
    return layout


# --- processes at run time ------------------------------------------------------------------


def process_index() -> int:
    """``jax.process_index()``: this process's id (0 without a layout)."""
    return jax.process_index()


def process_count() -> int:
    """``jax.process_count()``: the number of processes of the job (1 without a layout)."""
    return jax.process_count()


def is_primary() -> bool:
    """Whether this is process 0: the one that writes files other than checkpoints, prints
    and shows progress."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process has reached the barrier ``name`` (nothing for one process)."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def broadcast_from_primary(values: np.ndarray) -> np.ndarray:
    """Process 0's ``values`` (an int32 array) on every process."""
    if jax.process_count() == 1:
        return np.asarray(values)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(values, np.int32)))


@contextlib.contextmanager
def native_stdout(*, to_stderr: bool):
    """Under several processes, send what native libraries print on the standard output
    (gloo, the CPU collectives, announces every connection) to the standard error
    (``to_stderr``: process 0, whose standard output stays for the results) or to nowhere
    (the other processes, which stay quiet). Nothing changes for one process."""
    if jax.process_count() == 1:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    target = os.dup(2) if to_stderr else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def spans_processes(mesh) -> bool:
    """Whether ``mesh`` holds devices of more than one process."""
    return bool(mesh.is_multi_process)


def check_same_run(record: dict[str, Any], x, y) -> None:
    """Stop every process (before the first step) unless all run the same configuration
    ``record`` on the same training data ``x, y``: compared by a SHA-256 digest."""
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode())
    for a in (x, y):
        a = np.ascontiguousarray(np.asarray(a))
        digest.update(f"{a.dtype}{a.shape}".encode())
        digest.update(a.tobytes())
    words = np.frombuffer(digest.digest(), np.uint32).astype(np.int32)
    from jax.experimental import multihost_utils

    try:
        multihost_utils.assert_equal(words)
    except AssertionError:
        raise ValueError(
            f"the {jax.process_count()} processes do not train the same run: their "
            "configurations or training data differ. Start every process with the same "
            "flags and data (and the same funcnn and JAX versions)."
        ) from None
