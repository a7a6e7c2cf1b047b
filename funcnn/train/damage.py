"""Telling a damaged checkpoint apart, naming the file and why (see
:mod:`funcnn.train.checkpoint`): the error, the CRC-32 of the arrays, orbax's and
tensorstore's read errors said shortly, and the noise orbax leaves after a failed read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import zlib

import numpy as np

from funcnn.io import DamagedFileError

#: The JSON files orbax reads back from a checkpoint of ours (relative to ``<epoch>/``);
#: checked first so that a damaged one is named, not reported as a bare parser error.
JSON_FILES = ("_CHECKPOINT_METADATA", "meta/metadata", "state/_METADATA")


class DamagedCheckpointError(DamagedFileError):
    """A checkpoint (or every checkpoint of a directory) cannot be read back.

    Attributes:
        path: the checkpoint's directory ``<checkpoint_dir>/<epoch>`` (or the checkpoint
            directory, when every checkpoint in it is damaged).
        reason: what is wrong, naming the file where known.
        epoch: the epoch of the checkpoint, or None.
    """

    def __init__(self, path, reason: str, fix: str = "", *, epoch: int | None = None):
        super().__init__(path, reason, fix)
        self.epoch = epoch


def checksum(a: np.ndarray) -> int:
    """CRC-32 of an array's dtype, shape and bytes."""
    a = np.ascontiguousarray(a)
    return zlib.crc32(a.tobytes(), zlib.crc32(f"{a.dtype.str}{a.shape}".encode()))


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


_STATUS_WORDS = {
    "OUT_OF_RANGE": "is truncated",
    "DATA_LOSS": "is corrupt",
    "NOT_FOUND": "is missing",
}


def read_error(e: BaseException, root: str) -> str:
    """Why orbax could not read a checkpoint, shortly: the file tensorstore names (relative
    to the checkpoint ``root``), what is wrong with it, and tensorstore's status."""
    text = " ".join(str(e).split(" [tensorstore_spec=")[0].split())
    files = re.findall(r'local file "([^"]+)"', text)
    code = re.match(r"([A-Z][A-Z_]+): ", text)
    if not files or code is None:
        return f"orbax cannot read it ({first_line(e)})"
    path = files[-1]
    where = os.path.relpath(path, root) + ("/" if path.endswith("/") else "")
    tail = text.rsplit(f'"{path}": ', 1)
    detail = tail[1] if len(tail) == 2 else text[code.end() :]
    detail = re.sub(r' in OCDBT database at local file "[^"]+"', "", detail)
    detail = detail.replace('Error opening "zarr" driver: ', "")
    verb = "cannot be read" if path.endswith("/") else _STATUS_WORDS.get(code.group(1), "")
    return f"{where} {verb or 'cannot be read'} ({code.group(1)}: {detail[:300]})"


def quiet_closed_loop_callbacks() -> None:
    """Drop the ``RuntimeError('Event loop is closed')`` that orbax's reads still in flight
    raise (as "unraisable" exceptions) after a read of a damaged checkpoint has failed;
    every other unraisable exception goes to the previous hook."""
    previous = sys.unraisablehook
    if getattr(previous, "_funcnn_quiet", False):
        return

    def hook(unraisable):
        e = unraisable.exc_value
        if isinstance(e, RuntimeError) and str(e) == "Event loop is closed":
            return
        previous(unraisable)

    hook._funcnn_quiet = True
    sys.unraisablehook = hook


class _DropUnparsedMetadata(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to json parse Metadata file")


@contextlib.contextmanager
def unparsed_metadata_unlogged():
    """Leave out orbax's log of a damaged ``_CHECKPOINT_METADATA`` (a bare JSON parser
    message) while it lists the checkpoints: reading that checkpoint names it instead."""
    drop = _DropUnparsedMetadata()
    logger = logging.getLogger("absl")
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
