"""Meeting at the coordinator before JAX does (see :mod:`funcnn.train.distributed`).

``jax.distributed.initialize`` with a bad layout waits for its whole timeout and then aborts
the process from C++; :func:`rendezvous` finds the same problems first over a plain TCP
connection to the coordinator's port, and every process concerned stops with a
:class:`~funcnn.train.layout.DistributedError` that says what is wrong and how to fix it.
"""

from __future__ import annotations

import json
import socket
import time

from funcnn.train.layout import (
    DEFAULT_TIMEOUT_S,
    LAYOUT_FIX,
    DistributedError,
    Layout,
    parse_coordinator,
)


def _listen(port: int) -> socket.socket:
    """A listening socket on every interface at ``port`` (where JAX's coordinator binds)."""
    try:
        if socket.has_dualstack_ipv6():
            return socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
        return socket.create_server(("", port))
    except OSError as e:
        raise DistributedError(
            f"process 0 cannot listen on port {port}, the coordinator's port ({e.strerror or e}); "
            "choose a free port for --coordinator HOST:PORT."
        ) from None


def _send(conn: socket.socket, message: dict) -> None:
    try:
        conn.sendall((json.dumps(message) + "\n").encode())
    except OSError:
        pass


def _receive(conn: socket.socket, deadline: float) -> dict | None:
    """One JSON line from ``conn`` before ``deadline``; None if none (or not one of ours)."""
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        conn.settimeout(remaining)
        try:
            chunk = conn.recv(4096)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    try:
        message = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _fail(connections, message: str):
    """Tell the processes connected so far why the job cannot start, and raise it here."""
    for conn in connections:
        _send(conn, {"error": message})
    raise DistributedError(message)


def _host_processes(layout: Layout, timeout: float) -> None:
    """Process 0: wait until every other process has said hello, then answer them all."""
    _, port = parse_coordinator(layout.coordinator)
    n = layout.num_processes
    deadline = time.monotonic() + timeout
    peers: dict[int, socket.socket] = {}
    server = _listen(port)
    try:
        while len(peers) < n - 1:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                waiting = sorted(set(range(1, n)) - set(peers))
                _fail(
                    peers.values(),
                    f"process 0 waited {timeout:g} s at the coordinator {layout.coordinator} "
                    f"for process(es) {waiting} of {n}: start them with --coordinator "
                    f"{layout.coordinator} --num-processes {n} --process-id I (or check that "
                    f"port {port} of this host is reachable from theirs).",
                )
            server.settimeout(remaining)
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            hello = _receive(conn, min(deadline, time.monotonic() + 10.0))
            if not hello or hello.get("funcnn") != "hello":
                conn.close()  # not one of this job's processes
                continue
            problem = None
            if hello.get("num_processes") != n:
                problem = (
                    f"process {hello.get('process_id')} was started with --num-processes "
                    f"{hello.get('num_processes')}, process 0 with {n}"
                )
            elif hello.get("process_id") in peers or hello.get("process_id") == 0:
                problem = f"two processes were started with --process-id {hello['process_id']}"
            if problem is not None:
                _fail(
                    [*peers.values(), conn],
                    f"inconsistent process layout: {problem}; {LAYOUT_FIX}.",
                )
            peers[int(hello["process_id"])] = conn
        for conn in peers.values():
            _send(conn, {"ok": True})
        for conn in peers.values():  # the others close first, so this port is free for JAX
            _receive(conn, time.monotonic() + 5.0)
    finally:
        for conn in peers.values():
            conn.close()
        server.close()


def _join_host(layout: Layout, timeout: float) -> None:
    """Process i > 0: reach the coordinator, say hello, and wait for its answer."""
    host, port = parse_coordinator(layout.coordinator)
    deadline = time.monotonic() + timeout
    last = None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DistributedError(
                f"process {layout.process_id} could not reach the coordinator "
                f"{layout.coordinator} within {timeout:g} s ({last}): start process 0 "
                f"(--process-id 0) on {host} with the same --coordinator, and check that "
                f"{host}:{port} names its host and that the port is open between the hosts."
            )
        try:
            conn = socket.create_connection((host, port), timeout=min(remaining, 5.0))
        except OSError as e:
            last = e.strerror or type(e).__name__
            time.sleep(min(0.25, max(remaining, 0)))
            continue
        with conn:
            hello = {
                "funcnn": "hello",
                "process_id": layout.process_id,
                "num_processes": layout.num_processes,
            }
            _send(conn, hello)
            # Process 0 answers by its own deadline, which may be a little after this one.
            answer = _receive(conn, deadline + min(5.0, timeout))
        if answer is None:
            raise DistributedError(
                f"process {layout.process_id} reached {layout.coordinator} but got no answer "
                f"within {timeout:g} s: is process 0 of this job running there (and were all "
                f"{layout.num_processes} processes started)?"
            )
        if "error" in answer:
            raise DistributedError(f"process 0 of {layout.coordinator} stopped: {answer['error']}")
        return


def rendezvous(layout: Layout, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Meet the other processes of a complete ``layout`` at its coordinator before JAX does.

    Process 0 listens on the coordinator's port until every other process has connected
    and agreed on the number of processes; the others connect (retrying) and wait for its
    answer. Anything wrong — the coordinator unreachable, a process missing, two processes
    with the same id, different numbers of processes — raises :class:`DistributedError` on
    the processes concerned within ``timeout`` seconds, where ``jax.distributed.initialize``
    would abort the process from C++ instead. Process 0 then frees the port for JAX.
    """
    if layout.num_processes == 1:
        return
    if layout.process_id == 0:
        _host_processes(layout, timeout)
    else:
        _join_host(layout, timeout)
