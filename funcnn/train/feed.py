"""Feeding the global batches of a mesh that spans processes (see
:mod:`funcnn.train.distributed`): each process puts only its own rows of every batch on its
own devices (``jax.make_array_from_process_local_data``).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from funcnn.data import permutation
from funcnn.train.sharding import DATA_AXIS, batch_sharding, replicated
from funcnn.train.state import data_shuffle_key, shuffle_key


def process_rows(mesh, batch_size: int) -> slice:
    """The rows ``[lo, hi)`` of a global batch that this process's devices hold when the
    batch is split over ``mesh`` (contiguous for a mesh of ``jax.devices()``)."""
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(DATA_AXIS))
    spans = sorted(
        {
            (index[0].start or 0, batch_size if index[0].stop is None else index[0].stop)
            for index in sharding.addressable_devices_indices_map((batch_size,)).values()
        }
    )
    lo, hi = spans[0][0], spans[-1][1]
    if sum(b - a for a, b in spans) != hi - lo:
        raise ValueError(
            f"this process's devices hold rows {spans} of a batch, which are not contiguous: "
            "build the mesh from jax.devices() (funcnn.train.make_mesh()), process by process."
        )
    return slice(lo, hi)


@functools.lru_cache(maxsize=16)
def _permutation_program(n: int, data_seed: int | None):
    def perm(key, step, n_batches):
        e = step // n_batches
        k = shuffle_key(key, e) if data_seed is None else data_shuffle_key(data_seed, e)
        return permutation(k, n)

    return jax.jit(perm, static_argnums=2)


def _local(a: jax.Array) -> jax.Array:
    """A copy of replicated ``a`` on one of this process's devices."""
    return a.addressable_shards[0].data


class ProcessBatches:
    """The global batches of an epoch, each process feeding its own rows.

    Every process computes the permutation of the epoch that ``state`` is at (on one of its
    devices; from the run's key, or from ``data_seed``, exactly as
    :func:`funcnn.train.step.batches_for` does in one process), takes the rows
    :func:`process_rows` of every batch from its copy of the training set, and
    ``jax.make_array_from_process_local_data`` makes the ``(n_batches, B, ...)`` arrays,
    split along the batch axis over the mesh.

    Args:
        x, y: the training set ``(n, ...)``, the same on every process.
        batch_size: ``B``, divisible by the mesh's number of devices.
        mesh: the mesh over the devices of every process.
        data_seed: as in :class:`funcnn.train.RunConfig`.
    """

    def __init__(self, x, y, batch_size: int, mesh, data_seed: int | None = None):
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.n = len(self.x)
        self.batch_size = int(batch_size)
        self.n_batches = self.n // self.batch_size
        self.rows = process_rows(mesh, self.batch_size)
        self.sharding = batch_sharding(mesh, stacked=True)
        self._perm = _permutation_program(self.n, data_seed)

    def __call__(self, state) -> tuple[jax.Array, jax.Array]:
        """``(xb, yb)`` of the epoch ``state.step // n_batches``, split over the mesh."""
        perm = np.asarray(self._perm(_local(state.key), _local(state.step), self.n_batches))
        index = perm[: self.n_batches * self.batch_size].reshape(self.n_batches, -1)
        index = index[:, self.rows]  # (n_batches, B / processes): this process's rows
        return tuple(
            jax.make_array_from_process_local_data(
                self.sharding, a[index], (self.n_batches, self.batch_size, *a.shape[1:])
            )
            for a in (self.x, self.y)
        )


def fed_epoch(model, loss, optimizer, mesh, x, y, **epoch_kwargs):
    """The compiled epoch of a mesh that spans processes: ``epoch(state, x, y) -> (state,
    metrics)`` like :func:`funcnn.train.make_epoch`, but the batches come from
    :class:`ProcessBatches` (its ``x, y`` arguments, the replicated training set, are not
    used) and the scan runs on batches already split over the mesh. ``epoch_kwargs`` are
    those of ``make_epoch`` (``batch_size``, ``data_seed``, ``grad``, ...)."""
    from funcnn.train.step import make_epoch_fn

    batches = ProcessBatches(x, y, epoch_kwargs["batch_size"], mesh, epoch_kwargs.get("data_seed"))
    stacked = batch_sharding(mesh, stacked=True)
    fn = make_epoch_fn(model, loss, optimizer, batch_sharding=stacked, **epoch_kwargs)
    rep = replicated(mesh)
    run = jax.jit(fn.run, donate_argnums=0, in_shardings=(rep, stacked, stacked), out_shardings=rep)

    def epoch(state, x=None, y=None):
        return run(state, *batches(state))

    epoch.batches = batches
    return epoch
