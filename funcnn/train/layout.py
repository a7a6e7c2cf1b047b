"""The layout of a job of several processes (see :mod:`funcnn.train.distributed`): the
coordinator ``HOST:PORT``, the number of processes and this process's id, from flags, from
the ``JAX_*`` environment variables, or from a cluster launch that JAX reads itself (SLURM,
Open MPI, Cloud TPU). Checked before JAX is started, with errors that name the flag and its
environment variable.
"""

from __future__ import annotations

import os
from typing import NamedTuple

#: Environment variables of a layout (the first is JAX's own).
ENV_COORDINATOR = "JAX_COORDINATOR_ADDRESS"
ENV_NUM_PROCESSES = "JAX_NUM_PROCESSES"
ENV_PROCESS_ID = "JAX_PROCESS_ID"
#: When to call ``jax.distributed.initialize``: "auto" when a layout is given or a
#: multi-process cluster launch is detected, "on" always (a layout JAX finds itself: Cloud
#: TPU, SLURM, Open MPI), "off" never.
MODES = ("auto", "on", "off")
#: Seconds to wait for the other processes (rendezvous, ``jax.distributed.initialize``,
#: heartbeats of a process that died, shutdown).
DEFAULT_TIMEOUT_S = 120.0

#: How to fix a bad layout (the end of its errors).
LAYOUT_FIX = (
    "give every process the same --coordinator HOST:PORT (process 0's host and a free port) "
    "and --num-processes N, and each its own --process-id in 0..N-1"
)


class DistributedError(RuntimeError):
    """A process layout that is incomplete, inconsistent or cannot be reached."""


class Layout(NamedTuple):
    """Where this process stands among the processes of a job.

    Attributes:
        coordinator: ``HOST:PORT`` of process 0's coordinator, or None (found by JAX).
        num_processes: the number of processes, or None (found by JAX).
        process_id: this process's id in ``0 .. num_processes - 1``, or None (found by JAX).
        source: where the layout came from: "flags", "environment", "slurm", "open mpi",
            "cloud tpu" or "jax" (``--distributed on`` without a layout).
    """

    coordinator: str | None
    num_processes: int | None
    process_id: int | None
    source: str

    @property
    def complete(self) -> bool:
        return None not in (self.coordinator, self.num_processes, self.process_id)


def detect_cluster(environ=None) -> str | None:
    """The multi-process cluster launch JAX can read a layout from, by its environment
    variables: "slurm" (``srun`` with several tasks), "open mpi" (``mpirun`` with several
    ranks), "cloud tpu" (a multi-host TPU slice that names its workers), else None."""
    env = os.environ if environ is None else environ

    def count(name):
        try:
            return int(env.get(name, "1"))
        except ValueError:
            return 1

    slurm = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID")
    if all(k in env for k in slurm) and count("SLURM_NTASKS") > 1:
        return "slurm"
    if "OMPI_MCA_orte_hnp_uri" in env and count("OMPI_COMM_WORLD_SIZE") > 1:
        return "open mpi"
    workers = env.get("TPU_PROCESS_ADDRESSES") or env.get("TPU_WORKER_HOSTNAMES") or ""
    if len([w for w in workers.split(",") if w.strip()]) > 1:
        return "cloud tpu"
    return None


def _int_setting(value, flag: str, env: str):
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise DistributedError(f"{flag} ({env}) must be an integer; got {value!r}.") from None


def parse_coordinator(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``HOST:PORT`` (``[v6-address]:PORT`` for IPv6)."""
    host, sep, port = str(address).strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not sep or not host or not 1 <= number <= 65535:
        raise DistributedError(
            f"--coordinator must be HOST:PORT with a port in 1..65535 (process 0's host, e.g. "
            f"node0:8476 or 10.0.0.1:8476); got {address!r}."
        )
    return host, number


def resolve_layout(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    mode: str = "auto",
    environ=None,
) -> Layout | None:
    """The layout of this process from the arguments, else the environment, else a detected
    cluster launch; None where there is none (one process, nothing to initialize).

    Raises:
        DistributedError: an unknown ``mode``, a layout with ``mode="off"``, missing or
            malformed values, ``process_id`` outside ``0 .. num_processes - 1``.
    """
    if mode not in MODES:
        raise DistributedError(f"--distributed must be one of {', '.join(MODES)}; got {mode!r}.")
    env = os.environ if environ is None else environ
    flags = {"coordinator": coordinator, "num_processes": num_processes, "process_id": process_id}
    given = [k for k, v in flags.items() if v is not None]
    if mode == "off":
        if given:
            flag_names = ", ".join("--" + k.replace("_", "-") for k in given)
            raise DistributedError(f"--distributed off excludes {flag_names}.")
        return None
    coordinator = coordinator if coordinator is not None else env.get(ENV_COORDINATOR) or None
    num_processes = _int_setting(
        num_processes if num_processes is not None else env.get(ENV_NUM_PROCESSES) or None,
        "--num-processes",
        ENV_NUM_PROCESSES,
    )
    process_id = _int_setting(
        process_id if process_id is not None else env.get(ENV_PROCESS_ID) or None,
        "--process-id",
        ENV_PROCESS_ID,
    )
    cluster = detect_cluster(env)
    if (coordinator, num_processes, process_id) == (None, None, None):
        if cluster is not None:
            return Layout(None, None, None, cluster)
        return Layout(None, None, None, "jax") if mode == "on" else None
    source = "flags" if given else "environment"
    missing = [
        f"--{name.replace('_', '-')} ({envname})"
        for name, value, envname in (
            ("coordinator", coordinator, ENV_COORDINATOR),
            ("num_processes", num_processes, ENV_NUM_PROCESSES),
            ("process_id", process_id, ENV_PROCESS_ID),
        )
        if value is None
    ]
    if missing and cluster is None:
        raise DistributedError(
            f"an incomplete process layout: {', '.join(missing)} not given; {LAYOUT_FIX}."
        )
    if coordinator is not None:
        parse_coordinator(coordinator)
    if num_processes is not None and num_processes < 1:
        raise DistributedError(f"--num-processes must be at least 1; got {num_processes}.")
    if process_id is not None and num_processes is not None:
        if not 0 <= process_id < num_processes:
            raise DistributedError(
                f"--process-id must be in 0..{num_processes - 1} for {num_processes} "
                f"processes; got {process_id}."
            )
    elif process_id is not None and process_id < 0:
        raise DistributedError(f"--process-id must be >= 0; got {process_id}.")
    return Layout(coordinator, num_processes, process_id, source)


#: The flags of ``funcnn train`` that give a layout: ``(name, argparse keyword arguments)``.
FLAGS = [
    (
        "--coordinator",
        dict(
            metavar="HOST:PORT",
            help=f"process 0's host and a free port, the same for every process (default: "
            f"${ENV_COORDINATOR})",
        ),
    ),
    (
        "--num-processes",
        dict(
            type=int,
            metavar="N",
            help=f"how many processes take part (default: ${ENV_NUM_PROCESSES})",
        ),
    ),
    (
        "--process-id",
        dict(
            type=int,
            metavar="I",
            help=f"this process's id in 0..N-1 (default: ${ENV_PROCESS_ID})",
        ),
    ),
    (
        "--distributed",
        dict(
            choices=MODES,
            default="auto",
            help="auto: initialize jax.distributed when a layout is given or a SLURM/Open "
            "MPI/Cloud TPU launch of several processes is detected; on: always (JAX finds "
            "the layout); off: never (default: %(default)s)",
        ),
    ),
    (
        "--distributed-timeout",
        dict(
            type=float,
            default=DEFAULT_TIMEOUT_S,
            metavar="SECONDS",
            help="how long to wait for the other processes before stopping with an error "
            "(default: %(default)g)",
        ),
    ),
]
