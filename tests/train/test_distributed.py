"""Several processes (jax.distributed): the layout, the meeting at the coordinator, and a run
of 2 processes x 4 CPU devices that equals 1 process x 8 devices, killed and resumed.

The processes of the last test are real ones on this machine, talking over local TCP ports;
where the machine cannot open one, those tests are skipped and say so.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from funcnn.train import distributed
from funcnn.train.distributed import DistributedError, Layout, rendezvous, resolve_layout

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int | None:
    """A free local TCP port, or None where this machine cannot listen on one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            return s.getsockname()[1]
    except OSError:
        return None


def _port() -> int:
    port = _free_port()
    if port is None:
        pytest.skip("this machine cannot listen on a local TCP port (the processes meet there)")
    return port


# --- the layout -----------------------------------------------------------------------------


def test_layout_from_flags_and_from_the_environment():
    assert resolve_layout(environ={}) is None  # one process: nothing to initialize
    assert resolve_layout("h:1234", 2, 1, environ={}) == Layout("h:1234", 2, 1, "flags")
    env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.1:8476", "JAX_NUM_PROCESSES": "4"}
    assert resolve_layout(process_id=3, environ=env) == Layout("10.0.0.1:8476", 4, 3, "flags")
    env["JAX_PROCESS_ID"] = "2"
    assert resolve_layout(environ=env) == Layout("10.0.0.1:8476", 4, 2, "environment")
    assert resolve_layout("[::1]:9000", 2, 0, environ={}).coordinator == "[::1]:9000"
    assert resolve_layout(mode="on", environ={}) == Layout(None, None, None, "jax")
    assert resolve_layout(mode="off", environ=env) is None


@pytest.mark.parametrize(
    "env, source",
    [
        (
            {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "n[1-2]", "SLURM_NTASKS": "2"}
            | {"SLURM_PROCID": "1", "SLURM_LOCALID": "0"},
            "slurm",
        ),
        ({"OMPI_MCA_orte_hnp_uri": "x", "OMPI_COMM_WORLD_SIZE": "4"}, "open mpi"),
        ({"TPU_WORKER_HOSTNAMES": "t0,t1"}, "cloud tpu"),
    ],
)
def test_cluster_launches_are_detected_and_left_to_jax(env, source):
    assert resolve_layout(environ=env) == Layout(None, None, None, source)
    # A given part of the layout is kept; JAX fills in the rest from the cluster.
    assert resolve_layout(coordinator="n1:9000", environ=env) == Layout(
        "n1:9000", None, None, "flags"
    )
    single = {**env, "SLURM_NTASKS": "1", "OMPI_COMM_WORLD_SIZE": "1", "TPU_WORKER_HOSTNAMES": "t0"}
    assert resolve_layout(environ=single) is None  # one task: a plain run


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(process_id=2, num_processes=2, coordinator="h:1"), "--process-id must be in 0..1 for 2 processes; got 2"),
        (dict(process_id=-1, num_processes=2, coordinator="h:1"), "--process-id must be in 0..1"),
        (dict(num_processes=0, process_id=0, coordinator="h:1"), "--num-processes must be at least 1; got 0"),
        (dict(num_processes=2, process_id=0), "incomplete process layout: --coordinator (JAX_COORDINATOR_ADDRESS) not given"),
        (dict(coordinator="h:1"), "--num-processes (JAX_NUM_PROCESSES), --process-id (JAX_PROCESS_ID) not given"),
        (dict(coordinator="h", num_processes=2, process_id=0), "--coordinator must be HOST:PORT"),
        (dict(coordinator="h:99999", num_processes=2, process_id=0), "with a port in 1..65535"),
        (dict(coordinator="h:1", num_processes="two", process_id=0), "--num-processes (JAX_NUM_PROCESSES) must be an integer; got 'two'"),
        (dict(coordinator="h:1", num_processes=2, process_id=0, mode="off"), "--distributed off excludes --coordinator, --num-processes, --process-id"),
        (dict(mode="sometimes"), "--distributed must be one of auto, on, off; got 'sometimes'"),
    ],
)  # fmt: skip
def test_bad_layouts_are_refused_before_jax_starts(kwargs, message):
    with pytest.raises(DistributedError) as e:
        resolve_layout(environ={}, **kwargs)
    assert message in str(e.value)


def test_one_process_is_a_plain_run():
    assert distributed.initialize(environ={}) is None
    assert distributed.initialize("127.0.0.1:1", 1, 0, environ={}) is None
    with pytest.raises(DistributedError, match="timeout must be > 0"):
        distributed.initialize("127.0.0.1:1", 2, 1, timeout=0, environ={})


# --- meeting at the coordinator ---------------------------------------------------------------


def _meet(layouts, timeout):
    """Run :func:`rendezvous` for each layout in a thread; ``{process_id: error or None}``."""
    out = {}

    def go(layout):
        try:
            rendezvous(layout, timeout)
            out[layout.process_id] = None
        except DistributedError as e:
            out[layout.process_id] = str(e)

    threads = [threading.Thread(target=go, args=(lay,)) for lay in layouts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 30)
    return out


def test_processes_meet_at_the_coordinator_and_free_its_port():
    port = _port()
    coordinator = f"127.0.0.1:{port}"
    out = _meet([Layout(coordinator, 3, i, "flags") for i in (2, 0, 1)], timeout=30)
    assert out == {0: None, 1: None, 2: None}
    with socket.create_server(("127.0.0.1", port)):  # JAX's coordinator can bind it now
        pass


def test_process_0_alone_stops_naming_the_missing_processes():
    coordinator = f"127.0.0.1:{_port()}"
    out = _meet([Layout(coordinator, 3, 0, "flags"), Layout(coordinator, 3, 2, "flags")], 1.5)
    waited = f"process 0 waited 1.5 s at the coordinator {coordinator} for process(es) [1] of 3"
    assert out[0].startswith(waited)
    assert out[2] == f"process 0 of {coordinator} stopped: {out[0]}"  # told why


def test_an_unreachable_coordinator_is_an_error_not_a_hang():
    coordinator = f"127.0.0.1:{_port()}"  # nobody listens there
    out = _meet([Layout(coordinator, 2, 1, "flags")], timeout=1.0)
    assert f"process 1 could not reach the coordinator {coordinator} within 1 s" in out[1]
    assert "start process 0 (--process-id 0) on 127.0.0.1" in out[1]


@pytest.mark.parametrize(
    "layouts, message",
    [
        ([(2, 0), (3, 1)], "process 1 was started with --num-processes 3, process 0 with 2"),
        ([(3, 0), (3, 1), (3, 1)], "two processes were started with --process-id 1"),
    ],
)
def test_inconsistent_layouts_stop_every_process_concerned(layouts, message):
    coordinator = f"127.0.0.1:{_port()}"
    threads_out = {}

    def go(i, n, pid):
        try:
            rendezvous(Layout(coordinator, n, pid, "flags"), 20)
            threads_out[i] = None
        except DistributedError as e:
            threads_out[i] = str(e)

    threads = [threading.Thread(target=go, args=(i, n, p)) for i, (n, p) in enumerate(layouts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert threads_out[0] is not None and message in threads_out[0]  # process 0
    assert sum(message in (v or "") for v in threads_out.values()) >= 2  # and the culprit


def test_the_cli_refuses_a_bad_layout(capsys):
    from funcnn.cli import main

    base = ["train", "--dataset", "iris", "--epochs", "1", "--no-progress"]
    assert (
        main([*base, "--coordinator", "127.0.0.1:1", "--num-processes", "2", "--process-id", "2"])
        == 2
    )
    assert "--process-id must be in 0..1 for 2 processes; got 2" in capsys.readouterr().err
    port = _port()
    flags = ["--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", "1"]
    assert main([*base, *flags, "--distributed-timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert f"funcnn train: error: process 1 could not reach the coordinator 127.0.0.1:{port}" in err


# --- real processes ---------------------------------------------------------------------------

# The run: an MLP with dropout on iris, 4 epochs of batch 16 (2 per device of 8), a checkpoint
# every epoch.
FLAGS = ["--dataset", "iris", "--hidden", "8", "--epochs", "4", "--batch-size", "16"]
FLAGS += ["--lr", "0.01", "--schedule", "constant", "--checkpoint-every", "1", "--no-progress"]

CHILD = textwrap.dedent(
    """
    import os, sys, time
    import jax

    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    coordinator, pid, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    from funcnn.train import distributed, loop

    distributed.initialize(coordinator, 2, pid, timeout=120)
    # Refused on every process before the first step, never a hang:
    from funcnn.data import load
    from funcnn.train import build_model, fit, fit_seeds

    data = load("iris")
    net = build_model("mlp", data, {"hidden": (8,)})
    for name, call in [
        ("batch", lambda: fit(net, data, batch_size=12, epochs=1, progress=False)),
        ("seeds", lambda: fit_seeds(net, data, seeds=[0, 1], epochs=1, progress=False)),
    ]:
        try:
            call()
            print(f"{name}: no error", file=sys.stderr, flush=True)
        except ValueError as e:
            print(f"{name}: {e}", file=sys.stderr, flush=True)

    after_epoch = loop.after_epoch

    def wait_after_2(plan, state, ckpt, callback):  # killed from outside while it waits
        state = after_epoch(plan, state, ckpt, callback)
        if state.epoch == 2:
            print("checkpoint 2 written", file=sys.stderr, flush=True)
            time.sleep(600)
        return state

    loop.after_epoch = wait_after_2
    from funcnn.cli import main

    main(["train", *argv])  # the layout is already initialized: the command uses it
    """
)


def _command(*args, devices: int, cache, script: str | None = None):
    """A process of this checkout's funcnn with ``devices`` CPU devices, compiling through
    the compilation cache folder ``cache`` (shared by the test's processes, so the resumed
    processes read what the first ones compiled)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "FUNCNN_COMPILE_CACHE": str(cache),
    }
    head = [sys.executable, "-c", script] if script else [sys.executable, "-m", "funcnn"]
    return subprocess.Popen(
        [*head, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(proc, marker: str, timeout: float) -> list[str]:
    """The stderr lines of ``proc`` up to the one with ``marker`` (a thread reads them)."""
    lines, found = [], threading.Event()

    def read():
        for line in proc.stderr:
            lines.append(line)
            if marker in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    found.wait(timeout)
    assert found.is_set(), "".join(lines)[-3000:]
    return lines


def _history(path) -> dict:
    return json.loads((path / "metrics.json").read_text())


def _last_arrays(path) -> list[np.ndarray]:
    """The arrays of the newest checkpoint under ``path``, as saved."""
    import orbax.checkpoint as ocp

    with ocp.CheckpointManager(path / "checkpoints") as m:
        args = ocp.args.Composite(state=ocp.args.StandardRestore())
        return [np.asarray(a) for a in m.restore(m.latest_step(), args=args).state["leaves"]]


@pytest.mark.slow
def test_two_processes_of_four_devices_equal_one_of_eight_killed_and_resumed(tmp_path):
    port = _port()
    ref_dir, dist_dir = tmp_path / "one_x_8", tmp_path / "two_x_4"
    cache = tmp_path / "compile-cache"
    ref = _command("train", *FLAGS, "--devices", "8", "--out", str(ref_dir), devices=8, cache=cache)

    # 1. Two processes of 4 devices train and are killed (SIGKILL) after checkpoint 2.
    layout = lambda port, i: ["--coordinator", f"127.0.0.1:{port}", "--process-id", str(i)]  # noqa: E731
    argv = ["--out", str(dist_dir), *FLAGS]
    first = [
        _command(f"127.0.0.1:{port}", str(i), *argv, devices=4, cache=cache, script=CHILD)
        for i in (0, 1)
    ]
    early = [_wait_for(p, "checkpoint 2 written", 600) for p in first]
    for p in first:
        p.send_signal(signal.SIGKILL)
        p.wait(60)
    for lines in early:  # both processes refused the bad settings
        text = "".join(lines)
        assert (
            "batch: batch_size (12) must be divisible by the number of devices (8, 2 processes x 4)"
            in text
        )
        assert (
            "seeds: fit_seeds trains all its runs on one device of one process; under 2 processes"
            in text
        )
    assert sorted(os.listdir(dist_dir / "checkpoints")) == ["1", "2"]

    # 2. Resumed by two fresh processes, through the command.
    port = _port()
    flags = [*argv, "--resume", "--json", "--num-processes", "2", "--distributed-timeout", "120"]
    second = [_command("train", *flags, *layout(port, i), devices=4, cache=cache) for i in (0, 1)]
    (out0, err0), (out1, err1) = [p.communicate(timeout=900) for p in second]
    assert [p.returncode for p in second] == [0, 0], err0[-3000:] + err1[-3000:]
    ref_out, ref_err = ref.communicate(timeout=900)
    assert ref.returncode == 0, ref_err[-3000:]

    # Only process 0 speaks: its stdout is the --json line; process 1 prints nothing.
    assert json.loads(out0)["epoch"] == 4 and "mlp on iris" in err0
    assert out1 == "" and err1 == ""
    assert sorted(os.listdir(dist_dir)) == ["checkpoints", "learning_curves.png", "metrics.json"]
    assert sorted(os.listdir(dist_dir / "checkpoints")) == ["2", "3", "4"]

    one, two = _history(ref_dir), _history(dist_dir)
    assert two["device"]["process_count"] == 2 and two["device"]["count"] == 4
    assert one["device"]["process_count"] == 1 and one["device"]["count"] == 8
    assert two["config"]["run"]["devices"] == one["config"]["run"]["devices"] == 8
    # The same examples in the same order each step: the same losses and parameters, up to
    # the order of the additions in the cross-device sums (float32 rounding).
    diffs = {}
    for k in ("loss", "grad_norm", "test_loss", "test_accuracy"):
        assert len(one["history"][k]) == len(two["history"][k]) == 4, k
        diffs[k] = float(np.max(np.abs(np.subtract(one["history"][k], two["history"][k]))))
    a, b = _last_arrays(ref_dir), _last_arrays(dist_dir)
    assert len(a) == len(b) > 5
    diffs["state"] = max(float(np.max(np.abs(x.astype(np.float64) - y))) for x, y in zip(a, b))
    print("max |1x8 - 2x4|:", diffs)
    assert all(v < 1e-5 for v in diffs.values()), diffs
    assert one["history"]["test_accuracy"] == two["history"]["test_accuracy"]
