"""Damaged checkpoints: a resumed run names the damaged one and why, falls back to the newest
intact one (and then trains to the same numbers as a straight run), or, where none is
intact, stops with a message that names them and the fix. Never a bare parser error.

(A damaged MNIST-1D cache file is named and regenerated: tests/data/test_mnist1d.py.)
"""

import glob
import os
import re

import chex
import pytest

from funcnn.cli import main
from funcnn.io import DamagedFileError
from funcnn.train import Checkpointer, fit
from funcnn.train.checkpoint import DamagedCheckpointError
from tests.train.tiny import DATA, NET, TINY


def _truncate(path, keep=0.5):
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(int(size * keep))


def _flip(path):
    """Overwrite the middle byte: same size, different contents."""
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


def _largest(folder, pattern):
    return max(glob.glob(os.path.join(folder, pattern), recursive=True), key=os.path.getsize)


# (how the checkpoint of epoch 3 is damaged, what the message says about it: a regex)
DAMAGE = {
    "meta truncated": (
        lambda c: _truncate(os.path.join(c, "meta", "metadata")),
        "meta/metadata: the checkpoint file cannot be parsed \\(invalid JSON at line",
    ),
    "meta emptied": (
        lambda c: _truncate(os.path.join(c, "meta", "metadata"), 0),
        "meta/metadata: the checkpoint file cannot be parsed \\(it is empty\\)",
    ),
    "meta not an object": (
        lambda c: open(os.path.join(c, "meta", "metadata"), "w").write("[1, 2]"),
        "meta/metadata: it holds list",
    ),
    "orbax metadata truncated": (
        lambda c: _truncate(os.path.join(c, "_CHECKPOINT_METADATA")),
        "_CHECKPOINT_METADATA: the checkpoint file cannot be parsed \\(invalid JSON at line 1",
    ),
    "state metadata truncated": (
        lambda c: _truncate(os.path.join(c, "state", "_METADATA")),
        "state/_METADATA: the checkpoint file cannot be parsed",
    ),
    "array file truncated": (
        lambda c: _truncate(_largest(c, "state/**/d/*")),
        "state/(ocdbt.process_0/)?d/[0-9a-f]+ is truncated \\(OUT_OF_RANGE: ",
    ),
    "array file corrupt": (
        lambda c: _flip(_largest(c, "state/**/d/*")),
        "state/(ocdbt.process_0/)?d/[0-9a-f]+ is corrupt \\(DATA_LOSS: ",
    ),
    "manifest deleted": (
        lambda c: os.remove(os.path.join(c, "state", "manifest.ocdbt")),
        "state/ cannot be read \\(NOT_FOUND: ",
    ),
}


def _three_epochs(tmp_path):
    """A straight 3-epoch run, and a checkpoint directory with the checkpoints of epochs
    1, 2 and 3 of the same run."""
    straight = fit(NET, DATA, **TINY)
    fit(NET, DATA, **TINY, checkpoint_dir=tmp_path, checkpoint_every=1)
    assert sorted(os.listdir(tmp_path)) == ["1", "2", "3"]
    return straight


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_names_the_damage_and_falls_back_to_the_newest_intact(tmp_path, damage, capsys):
    straight = _three_epochs(tmp_path)
    how, says = DAMAGE[damage]
    how(str(tmp_path / "3"))
    with Checkpointer(tmp_path) as c, pytest.raises(DamagedCheckpointError) as e:
        c.restore(straight.state, 3)
    assert re.match(re.escape(f"{tmp_path / '3'} is damaged: ") + says, str(e.value)), e.value
    assert "JSONDecodeError" not in str(e.value)  # named and explained, not a bare parser error
    assert e.value.epoch == 3

    resumed = fit(NET, DATA, **TINY, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True)
    err = capsys.readouterr().err
    assert re.search(re.escape(f"funcnn: {tmp_path / '3'} is damaged: ") + says, err), err
    assert f"moved the damaged checkpoint {tmp_path / '3'} to {tmp_path / '3.damaged'}" in err
    assert "resuming from epoch 2, the newest intact checkpoint" in err
    # Epoch 3 trained again from epoch 2: the numbers of the straight run.
    chex.assert_trees_all_equal(resumed.params, straight.params)
    assert resumed.history["loss"] == straight.history["loss"]
    assert sorted(os.listdir(tmp_path)) == ["1", "2", "3", "3.damaged"]


def test_every_checkpoint_damaged_stops_naming_them_and_the_fix(tmp_path, capsys):
    _three_epochs(tmp_path)
    for epoch in ("1", "2", "3"):
        _truncate(tmp_path / epoch / "meta" / "metadata")
    with pytest.raises(DamagedCheckpointError) as e:
        fit(NET, DATA, **TINY, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True)
    message = str(e.value)
    assert isinstance(e.value, DamagedFileError)
    assert message.startswith(
        f"{tmp_path} is damaged: every checkpoint in it is damaged, so there is nothing to "
        "resume: epoch 3 (meta/metadata: the checkpoint file cannot be parsed"
    )
    assert "; 2 (meta/metadata" in message and "; 1 (meta/metadata" in message
    assert message.endswith(
        "Start afresh (funcnn train --overwrite, or delete the directory), or put back intact "
        "checkpoints from a copy."
    )
    assert sorted(os.listdir(tmp_path)) == ["1", "2", "3"]  # nothing moved, nothing deleted


def test_the_command_resumes_past_a_damaged_checkpoint_or_stops_with_the_fix(tmp_path, capsys):
    flags = ["train", "--dataset", "iris", "--hidden", "4", "--epochs", "2", "--batch-size", "30"]
    flags += ["--no-progress", "--no-plot", "--checkpoint-every", "1", "--out", str(tmp_path)]
    assert main(flags) == 0
    ckpts = tmp_path / "checkpoints"
    _truncate(ckpts / "2" / "meta" / "metadata")
    capsys.readouterr()
    assert main([*flags, "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"funcnn: {ckpts / '2'} is damaged: meta/metadata: the checkpoint file cannot" in err
    assert "resuming from epoch 1, the newest intact checkpoint" in err
    for epoch in ("1", "2"):
        _truncate(ckpts / epoch / "state" / "_METADATA")
    assert main([*flags, "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"funcnn train: error: {ckpts} is damaged: every checkpoint in it is damaged" in err
    assert "Start afresh (funcnn train --overwrite" in err
