"""Data-parallel training over several devices with ``jax.sharding``.

A one-axis ``Mesh`` named "data" spans the devices. Params, optimizer state and the (small)
training set are *replicated* on every device; inside the compiled epoch every minibatch
``(B, ...)`` is *sharded* along its batch axis, so each device computes the forward and
backward pass of ``B / n_devices`` examples and XLA inserts the all-reduce that sums the
per-device gradients. The update is then the same on every device, so params stay
replicated. The result equals single-device training up to the order of floating-point
additions in the batch reductions.

On a CPU, test it with ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` set before
jax is imported. A mesh may span several processes (``jax.distributed``, see
:mod:`funcnn.train.distributed`): ``jax.devices()`` then lists every process's devices.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def make_mesh(devices: Sequence | int | None = None) -> Mesh:
    """A one-axis mesh ("data") over ``devices``: a list of devices, a count of the first
    ``jax.devices()``, or None for all of them."""
    available = jax.devices()
    if devices is None:
        devices = available
    elif isinstance(devices, int) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(
                f"devices must be between 1 and the {len(available)} available "
                f"{available[0].platform} device(s); got {devices}. On a CPU, more host devices "
                "come from XLA_FLAGS=--xla_force_host_platform_device_count=N (set before "
                "importing jax)."
            )
        devices = available[:devices]
    else:
        devices = list(devices)
        if not devices:
            raise ValueError("devices must not be empty.")
    return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array (params, optimizer state, the data set)."""
    return NamedSharding(mesh, PartitionSpec())


def batch_sharding(mesh: Mesh, *, stacked: bool = False) -> NamedSharding:
    """Split the batch axis across the mesh: axis 0 of ``(B, ...)``, or axis 1 of the
    stacked batches ``(n_batches, B, ...)`` of an epoch when ``stacked``."""
    spec = PartitionSpec(None, DATA_AXIS) if stacked else PartitionSpec(DATA_AXIS)
    return NamedSharding(mesh, spec)


def check_batch_divisible(batch_size: int, mesh: Mesh) -> None:
    n = mesh.devices.size
    if batch_size % n:
        processes = len({d.process_index for d in mesh.devices.flat})
        where = f", {processes} processes x {n // processes}" if processes > 1 else ""
        raise ValueError(
            f"batch_size ({batch_size}) must be divisible by the number of devices ({n}{where}) "
            f"for data-parallel training; try batch_size={max(n, batch_size // n * n)}."
        )


def replicate(tree, mesh: Mesh):
    """Place every leaf of ``tree`` on all devices of ``mesh``.

    A mesh of several processes takes each leaf as a host value (the same on every
    process): JAX places a host value on another process's devices, never a device array.
    """
    sharding = replicated(mesh)
    if mesh.is_multi_process:
        return jax.tree.map(lambda a: _host_put(a, sharding), tree)
    return jax.device_put(tree, sharding)


def _host_put(a, sharding: NamedSharding):
    if isinstance(a, jax.Array) and jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        data = _host_put(jax.random.key_data(a), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))
    return jax.device_put(np.asarray(a), sharding)
