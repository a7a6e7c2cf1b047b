"""Checkpoints of a training run with orbax-checkpoint.

A checkpoint is one directory ``<checkpoint_dir>/<epoch>`` holding

* ``state``: every leaf of the :class:`~funcnn.train.state.TrainState` (params, optimizer
  state, step count, and the run's key as its raw ``uint32`` key data), saved with
  ``orbax.checkpoint.args.StandardSave``;
* ``meta``: JSON with the epoch, the history so far and the run's configuration.

Atomicity comes from orbax: a checkpoint is written into a temporary directory
(``<epoch>.orbax-checkpoint-tmp...``) that is renamed to ``<epoch>`` only after every file is
complete. A process killed while writing leaves a temporary directory, which
:meth:`Checkpointer.latest_epoch` never returns and the next :class:`Checkpointer` on that
directory deletes, so a run always resumes from the last *complete* checkpoint.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from funcnn.train.config import resume_conflicts


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
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_epoch(self) -> int | None:
        """The epoch of the newest complete checkpoint, or None."""
        self._manager.reload()
        return self._manager.latest_step()

    def all_epochs(self) -> list[int]:
        self._manager.reload()
        return list(self._manager.all_steps())

    def save(self, epoch: int, state, meta: dict[str, Any]) -> None:
        """Write the checkpoint of ``epoch`` (blocking; atomic)."""
        ocp = self._ocp
        leaves = [np.asarray(x) for x in _to_savable(state)]
        args = ocp.args.Composite(
            state=ocp.args.StandardSave({"leaves": leaves}),
            meta=ocp.args.JsonSave({**meta, "epoch": int(epoch)}),
        )
        self._manager.save(int(epoch), args=args, force=True)
        self._manager.wait_until_finished()

    def restore(self, like, epoch: int | None = None):
        """``(state, meta)`` of ``epoch`` (default: the latest complete one).

        Args:
            like: a state with the structure, shapes and dtypes of the saved one (e.g. a
                freshly initialized state of the same run).
        """
        ocp = self._ocp
        if epoch is None:
            epoch = self.latest_epoch()
            if epoch is None:
                raise FileNotFoundError(f"no complete checkpoint in {self.directory}.")
        abstract = {
            "leaves": [
                jax.ShapeDtypeStruct(np.shape(x), np.asarray(x).dtype) for x in _to_savable(like)
            ]
        }
        args = ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
        )
        restored = self._manager.restore(int(epoch), args=args)
        state = _from_saved(list(restored.state["leaves"]), like)
        return state, dict(restored.meta)

    def meta(self, epoch: int) -> dict[str, Any]:
        """The JSON saved with the checkpoint of ``epoch``, without reading its arrays."""
        ocp = self._ocp
        args = ocp.args.Composite(meta=ocp.args.JsonRestore())
        return dict(self._manager.restore(int(epoch), args=args).meta)

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
    another run's checkpoints; a resumed run starts from the last complete checkpoint (or
    from ``state`` if there is none), whose saved configuration must equal ``record`` but
    for the settings of :data:`funcnn.train.config.RESUME_FREE`.
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
    epoch = checkpointer.latest_epoch()
    if epoch is None:
        return state, {}, 0
    conflicts = resume_conflicts(checkpointer.meta(epoch).get("config", {}), record)
    if conflicts:
        raise ValueError(
            f"cannot resume from {checkpointer.directory}: its run used a different "
            f"configuration ({'; '.join(conflicts)}). Use a new checkpoint directory or the "
            "same settings."
        )
    state, meta = checkpointer.restore(state, epoch)
    return state, meta["history"], int(epoch)
