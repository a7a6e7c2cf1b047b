"""Checkpoints of a training run with orbax-checkpoint.

A checkpoint is one directory ``<checkpoint_dir>/<epoch>`` holding

* ``state``: every leaf of the :class:`~funcnn.train.state.TrainState` (params, optimizer
  state, step count, and the run's key as its raw ``uint32`` key data), saved with
  ``orbax.checkpoint.args.StandardSave``;
* ``meta``: JSON with the epoch, the history so far, the run's configuration and a CRC-32
  of every array of ``state``.

Atomicity comes from orbax: a checkpoint is written into a temporary directory
(``<epoch>.orbax-checkpoint-tmp...``) that is renamed to ``<epoch>`` only after every file is
complete. A process killed while writing leaves a temporary directory, which
:meth:`Checkpointer.latest_epoch` never returns and the next :class:`Checkpointer` on that
directory deletes, so a run always resumes from the last *complete* checkpoint.

A complete checkpoint can still be damaged afterwards: truncated by a full disk, overwritten
by another tool, a file deleted. Reading one checks its JSON files, lets orbax read the
arrays, and compares every array with its CRC-32; what fails raises
:class:`DamagedCheckpointError`, naming the checkpoint, the file where known, and why. A
resumed run then falls back to the newest intact checkpoint (:func:`restore_run`), moving
the damaged newer ones aside to ``<epoch>.damaged``; where none is intact it stops with a
message that names them and the fix.

Under several processes (``jax.distributed``) every process reads and writes the checkpoints
together (orbax: process 0 writes the files), so the directory must be one that all see.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.io import DamagedFileError, read_json
from funcnn.train import distributed
from funcnn.train.config import resume_conflicts
from funcnn.train.damage import (
    JSON_FILES,
    DamagedCheckpointError,
    checksum,
    first_line,
    quiet_closed_loop_callbacks,
    read_error,
    unparsed_metadata_unlogged,
)


def _is_key(x) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def _to_savable(state) -> list:
    """Leaves of ``state`` as plain arrays (typed keys -> their uint32 data)."""
    return [jax.random.key_data(x) if _is_key(x) else x for x in jax.tree.leaves(state)]


def _from_saved(leaves: list, like):
    """Rebuild a pytree like ``like`` from saved leaves (key data -> typed keys)."""
    like_leaves, treedef = jax.tree.flatten(like)
    if len(leaves) != len(like_leaves):
        raise ValueError(
            f"checkpoint holds {len(leaves)} arrays but this run's state has {len(like_leaves)}: "
            "it was written by a different model or optimizer."
        )
    out = []
    for saved, ref in zip(leaves, like_leaves):
        if _is_key(ref):
            out.append(jax.random.wrap_key_data(jnp.asarray(saved), impl=jax.random.key_impl(ref)))
            continue
        saved = jnp.asarray(saved)
        if saved.shape != ref.shape or saved.dtype != ref.dtype:
            raise ValueError(
                f"checkpoint array of shape {saved.shape} {saved.dtype} does not match this run's "
                f"{ref.shape} {ref.dtype}: it was written by a different model or optimizer."
            )
        out.append(saved)
    return jax.tree.unflatten(treedef, out)


class Checkpointer:
    """Save and restore training states under ``directory`` (one sub-directory per epoch).

    Args:
        directory: where checkpoints go (created if missing).
        max_to_keep: how many of the latest checkpoints to keep.
    """

    def __init__(self, directory: str | os.PathLike, *, max_to_keep: int = 3):
        import orbax.checkpoint as ocp

        self._ocp = ocp
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            create=True,
            enable_async_checkpointing=False,
            cleanup_tmp_directories=True,  # leftovers of a process killed while saving
        )
        with unparsed_metadata_unlogged():
            self._manager = ocp.CheckpointManager(self.directory, options=options)

    def reload(self) -> None:
        """See the directory afresh (after checkpoints were moved)."""
        with unparsed_metadata_unlogged():
            self._manager.reload()

    def latest_epoch(self) -> int | None:
        """The epoch of the newest complete checkpoint, or None."""
        self.reload()
        return self._manager.latest_step()

    def all_epochs(self) -> list[int]:
        self.reload()
        return list(self._manager.all_steps())

    def path(self, epoch: int) -> str:
        """The directory of the checkpoint of ``epoch``."""
        return os.path.join(self.directory, str(int(epoch)))

    def save(self, epoch: int, state, meta: dict[str, Any]) -> None:
        """Write the checkpoint of ``epoch`` (blocking; atomic), with a CRC-32 of every
        array in its meta."""
        ocp = self._ocp
        leaves = [np.asarray(x) for x in _to_savable(state)]
        meta = {**meta, "epoch": int(epoch), "crc32": [checksum(a) for a in leaves]}
        args = ocp.args.Composite(
            state=ocp.args.StandardSave({"leaves": leaves}), meta=ocp.args.JsonSave(meta)
        )
        self._manager.save(int(epoch), args=args, force=True)
        self._manager.wait_until_finished()

    def _damaged(self, epoch: int, reason: str) -> DamagedCheckpointError:
        quiet_closed_loop_callbacks()
        return DamagedCheckpointError(self.path(epoch), reason, epoch=int(epoch))

    def _check_json(self, epoch: int, names) -> None:
        """Parse the JSON files ``names`` of a checkpoint (where present), so that a damaged
        one is named; a missing one is left to orbax, which names it."""
        for name in names:
            path = os.path.join(self.path(epoch), *name.split("/"))
            if os.path.isfile(path):
                try:
                    value = read_json(path, what="checkpoint file")
                except DamagedFileError as e:
                    raise self._damaged(epoch, f"{name}: {e.reason}") from None
                if not isinstance(value, dict):
                    raise self._damaged(epoch, f"{name}: it holds {type(value).__name__}")

    def _read(self, epoch: int, **items):
        """orbax's restore of ``items``, its failures as :class:`DamagedCheckpointError`."""
        names = [n for n in JSON_FILES if "/" not in n or n.split("/")[0] in items]
        self._check_json(epoch, names)
        if not os.path.isdir(self.path(epoch)):
            raise self._damaged(epoch, "its directory is gone")
        try:
            return self._manager.restore(int(epoch), args=self._ocp.args.Composite(**items))
        except (OSError, ValueError, KeyError, EOFError, RuntimeError, TypeError) as e:
            raise self._damaged(epoch, read_error(e, self.path(epoch))) from None

    def restore(self, like, epoch: int | None = None):
        """``(state, meta)`` of ``epoch`` (default: the latest complete one).

        Args:
            like: a state with the structure, shapes and dtypes of the saved one (e.g. a
                freshly initialized state of the same run).

        Raises:
            DamagedCheckpointError: a file of the checkpoint is missing, truncated or
                corrupt, or an array does not match its CRC-32.
            ValueError: the checkpoint holds another model's or optimizer's state.
        """
        if epoch is None:
            epoch = self.latest_epoch()
            if epoch is None:
                raise FileNotFoundError(f"no complete checkpoint in {self.directory}.")
        state = _from_saved(self.arrays(epoch), like)
        return state, self.meta(epoch)

    def arrays(self, epoch: int) -> list[np.ndarray]:
        """The arrays of the checkpoint of ``epoch`` as saved (host arrays, the leaves of
        the state in order, keys as their ``uint32`` data), each checked against its CRC-32.

        Raises:
            DamagedCheckpointError: as :meth:`restore`.
        """
        sums = self._meta(epoch).get("crc32")
        # Read as saved, without a target: a failure of orbax here is damage, never a
        # mismatch with another run's structure (that is :func:`_from_saved`'s to find).
        restored = self._read(epoch, state=self._ocp.args.StandardRestore())
        try:
            leaves = [np.asarray(a) for a in restored.state["leaves"]]
        except (KeyError, TypeError) as e:
            raise self._damaged(epoch, f"state: unexpected contents ({first_line(e)})") from None
        if sums is None:  # written before checkpoints carried checksums
            return leaves
        if len(sums) != len(leaves):
            raise self._damaged(epoch, f"state holds {len(leaves)} arrays, its meta {len(sums)}")
        for i, (a, crc) in enumerate(zip(leaves, sums)):
            if checksum(a) != crc:
                where = f"state: array {i} ({a.dtype} {list(a.shape)})"
                raise self._damaged(epoch, f"{where} does not match its CRC-32 in meta")
        return leaves

    def meta(self, epoch: int) -> dict[str, Any]:
        """The JSON saved with the checkpoint of ``epoch``, without reading its arrays.

        Raises:
            DamagedCheckpointError: the meta file is missing or not a JSON object.
        """
        meta = self._meta(epoch)
        meta.pop("crc32", None)
        return meta

    def _meta(self, epoch: int) -> dict[str, Any]:
        meta = self._read(epoch, meta=self._ocp.args.JsonRestore()).meta
        if not isinstance(meta, dict):
            raise self._damaged(epoch, "meta: not a JSON object")
        return dict(meta)

    def move_aside(self, epoch: int) -> str:
        """Rename the (damaged) checkpoint of ``epoch`` to ``<epoch>.damaged`` (a free name),
        out of orbax's sight; returns the new path. Process 0 renames under several
        processes."""
        target = base = self.path(epoch) + ".damaged"
        i = 1
        while os.path.exists(target):
            i += 1
            target = f"{base}{i}"
        if jax.process_index() == 0:
            os.rename(self.path(epoch), target)
        return target

    def close(self) -> None:
        self._manager.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- a run's checkpoints ------------------------------------------------------------------


def save_run(checkpointer: Checkpointer, epoch: int, state, history: dict, record: dict) -> None:
    """Checkpoint a run after ``epoch``: its state, its history so far and its configuration
    ``record`` (:attr:`funcnn.train.inputs.Prepared.record`)."""
    checkpointer.save(epoch, state, {"history": history, "config": record})


def restore_run(checkpointer: Checkpointer | None, state, record: dict, *, resume: bool):
    """``(state, history, epochs_done)`` to start a run from.

    A fresh run (``resume`` False) starts from ``state`` and refuses a directory that holds
    another run's checkpoints; a resumed run starts from the newest intact checkpoint (or
    from ``state`` if there is none), whose saved configuration must equal ``record`` but
    for the settings of :data:`funcnn.train.config.RESUME_FREE`.

    A damaged checkpoint (:class:`DamagedCheckpointError`) is named on stderr and skipped
    for the next older one; the damaged ones newer than the one resumed are moved aside
    (``<epoch>.damaged``), since training writes those epochs again.

    Raises:
        DamagedCheckpointError: every checkpoint in the directory is damaged (the message
            names each and the fix).
        ValueError: the checkpoints belong to another run.
    """
    if checkpointer is None:
        if resume:
            raise ValueError("resume=True needs checkpoint_dir=.")
        return state, {}, 0
    if not resume:
        existing = checkpointer.all_epochs()
        if existing:
            raise ValueError(
                f"checkpoint_dir {checkpointer.directory} already holds checkpoints "
                f"(epochs {existing}) of an earlier run; pass resume=True to continue it or "
                "use an empty directory."
            )
        return state, {}, 0
    damaged: list[DamagedCheckpointError] = []
    for epoch in sorted(checkpointer.all_epochs(), reverse=True):
        try:
            saved = checkpointer.meta(epoch)
            conflicts = resume_conflicts(saved.get("config", {}), record)
            if conflicts:
                raise ValueError(
                    f"cannot resume from {checkpointer.directory}: its run used a different "
                    f"configuration ({'; '.join(conflicts)}). Use a new checkpoint directory or "
                    "the same settings."
                )
            restored, meta = checkpointer.restore(state, epoch)
            if not isinstance(meta.get("history"), dict):
                raise checkpointer._damaged(epoch, "meta: no history of the run")
        except DamagedCheckpointError as e:
            _say(f"funcnn: {e}")
            damaged.append(e)
            continue
        for e in damaged:
            moved = checkpointer.move_aside(e.epoch)
            _say(f"funcnn: moved the damaged checkpoint {e.path} to {moved}")
        if damaged:
            _say(f"funcnn: resuming from epoch {epoch}, the newest intact checkpoint")
            distributed.barrier("funcnn-damaged-moved")
            checkpointer.reload()
        return restored, meta["history"], int(epoch)
    if damaged:
        listed = "; ".join(f"{e.epoch} ({e.reason})" for e in damaged)
        raise DamagedCheckpointError(
            checkpointer.directory,
            f"every checkpoint in it is damaged, so there is nothing to resume: epoch {listed}",
            "Start afresh (funcnn train --overwrite, or delete the directory), or put back "
            "intact checkpoints from a copy.",
        )
    return state, {}, 0


def _say(message: str) -> None:
    """A note on stderr (from process 0 only)."""
    if jax.process_index() == 0:
        print(message, file=sys.stderr)
