"""Interrupted-and-resumed training equals straight training, bitwise, with real processes.

The run: 10 epochs of a small MLP with dropout, Adam and a cosine schedule (so the optimizer
moments, the schedule's step count, the shuffling and the dropout keys all have to come back
exactly), checkpointing every epoch.

1. Process A trains; after the checkpoint of epoch 5 it waits, and this test kills it with
   SIGKILL from outside.
2. Process B resumes from epoch 5 and is killed (SIGKILL, from inside orbax's commit step)
   while writing the checkpoint of epoch 8: all of its files are on disk but the checkpoint
   is not committed.
3. Process C resumes: from epoch 7, never from the half-written 8, and trains to epoch 10.

C's final state and history must equal, bit for bit, those of 10 epochs trained straight.
"""

import os
import signal
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

CHILD = textwrap.dedent(
    """
    import os, signal, sys, time
    import numpy as np
    import jax
    import funcnn
    from funcnn.data import Dataset
    from funcnn.train import fit

    mode, ckpt, out = sys.argv[1], sys.argv[2], sys.argv[3]

    def data():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(60, 5)).astype(np.float32)
        y = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + (x[:, 2] > 0.5).astype(np.int32)
        return Dataset(x[:40], y[:40], x[40:], y[40:], 3, "toy")

    NET = funcnn.mlp([5, 16, 3], "relu", dropout=0.3)
    KW = dict(optimizer="adam", lr=0.02, schedule="cosine", epochs=10, batch_size=8,
              seed=4, progress=False)

    def run(checkpoint_dir=None, resume=False, callback=None):
        return fit(NET, data(), checkpoint_dir=checkpoint_dir, checkpoint_every=1,
                   resume=resume, callback=callback, **KW)

    def save(result):
        leaves = [np.asarray(jax.random.key_data(v)) if jax.dtypes.issubdtype(v.dtype,
                  jax.dtypes.prng_key) else np.asarray(v) for v in jax.tree.leaves(result.state)]
        np.savez(out, *leaves, loss=np.asarray(result.history["loss"]),
                 test_loss=np.asarray(result.history["test_loss"]))

    if mode == "wait_after_5":
        def callback(epoch, state, history):
            if epoch == 5:
                print("checkpoint 5 written", flush=True)
                time.sleep(600)  # killed from outside here
        run(ckpt, callback=callback)
    elif mode == "die_writing_8":
        from orbax.checkpoint._src.path import atomicity
        commit = atomicity.AtomicRenameTemporaryPath.finalize
        async def finalize(self, *args, **kwargs):
            if os.path.basename(str(self.get())).startswith("8."):
                os.kill(os.getpid(), signal.SIGKILL)  # files written, commit not done
            return await commit(self, *args, **kwargs)
        atomicity.AtomicRenameTemporaryPath.finalize = finalize
        run(ckpt, resume=True)
    elif mode == "resume":
        save(run(ckpt, resume=True))
    else:
        save(run())
    """
)


def _child(tmp_path, mode, **popen):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    args = [
        sys.executable,
        str(script),
        mode,
        str(tmp_path / "ckpt"),
        str(tmp_path / f"{mode}.npz"),
    ]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
    )


def _complete(ckpt):
    return sorted(int(p) for p in os.listdir(ckpt) if p.isdigit())


def _tmp_dirs(ckpt):
    return [p for p in os.listdir(ckpt) if "orbax-checkpoint-tmp" in p]


@pytest.mark.slow
def test_killed_and_resumed_equals_straight_bitwise(tmp_path):
    ckpt = tmp_path / "ckpt"
    straight = _child(tmp_path, "straight")

    # 1. Killed from outside after the checkpoint of epoch 5.
    a = _child(tmp_path, "wait_after_5")
    line = a.stdout.readline()
    assert line.strip() == "checkpoint 5 written", a.stderr.read()
    a.send_signal(signal.SIGKILL)
    a.wait(timeout=60)
    assert a.returncode == -signal.SIGKILL
    assert _complete(ckpt)[-1] == 5

    # 2. Resumed, and killed while writing the checkpoint of epoch 8.
    b = _child(tmp_path, "die_writing_8")
    _, err = b.communicate(timeout=300)
    assert b.returncode == -signal.SIGKILL, err
    assert _complete(ckpt)[-1] == 7
    assert any(p.startswith("8.") for p in _tmp_dirs(ckpt))  # the half-written checkpoint

    # 3. Resumed from 7 (not the half-written 8) to the end.
    c = _child(tmp_path, "resume")
    _, err = c.communicate(timeout=300)
    assert c.returncode == 0, err
    assert _complete(ckpt)[-1] == 10 and not _tmp_dirs(ckpt)

    _, err = straight.communicate(timeout=300)
    assert straight.returncode == 0, err
    s = np.load(tmp_path / "straight.npz")
    r = np.load(tmp_path / "resume.npz")
    assert sorted(s.files) == sorted(r.files) and len(s.files) > 10
    for name in s.files:  # params, Adam moments, counts, step, key; history
        np.testing.assert_array_equal(r[name], s[name], err_msg=name)
        assert r[name].dtype == s[name].dtype


def test_checkpointer_round_trip_and_mismatch(tmp_path):
    import funcnn
    from funcnn.train import Checkpointer, init_state, make_optimizer

    net = funcnn.mlp([3, 4, 2])
    opt = make_optimizer("adam", 0.1)
    state = init_state(net, opt, jax.random.key(5))
    with Checkpointer(tmp_path / "c") as c:
        assert c.latest_epoch() is None
        with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
            c.restore(state)
        c.save(3, state, {"history": {"loss": [1.0, 0.5]}})
        assert c.latest_epoch() == 3
        back, meta = c.restore(state)
    assert meta == {"history": {"loss": [1.0, 0.5]}, "epoch": 3}
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(back), strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    other = init_state(funcnn.mlp([3, 5, 2]), opt, jax.random.key(5))
    with Checkpointer(tmp_path / "c") as c:
        with pytest.raises(ValueError, match="written by a different model or optimizer"):
            c.restore(other)


def test_a_stopped_run_resumes_bitwise_in_process(tmp_path):
    import chex

    from funcnn.train import fit
    from tests.train.tiny import DATA, NET, TINY

    straight = fit(NET, DATA, **TINY)
    stopped = fit(NET, DATA, **TINY, checkpoint_dir=tmp_path, callback=lambda e, s, h: e == 2)
    assert stopped.history["epoch"] == [1, 2]
    resumed = fit(NET, DATA, **{**TINY, "progress": True}, checkpoint_dir=tmp_path, resume=True)
    chex.assert_trees_all_equal(resumed.params, straight.params)
    chex.assert_trees_all_equal(resumed.state.opt_state, straight.state.opt_state)
    for k in ("loss", "grad_norm", "lr", "train_loss", "test_accuracy"):
        assert resumed.history[k] == straight.history[k], k
    again = fit(NET, DATA, **TINY, checkpoint_dir=tmp_path, resume=True)  # already complete
    chex.assert_trees_all_equal(again.params, straight.params)
    assert again.history["epoch"] == [1, 2, 3]


def test_checkpoint_dir_of_another_run_is_not_overwritten(tmp_path):
    import funcnn
    from funcnn.train import fit
    from tests.train.tiny import DATA, NET, TINY

    fit(NET, DATA, **{**TINY, "epochs": 1}, checkpoint_dir=tmp_path)
    with pytest.raises(
        ValueError, match=r"already holds checkpoints \(epochs \[1\]\) of an earlier"
    ):
        fit(NET, DATA, **{**TINY, "epochs": 1}, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"different configuration \(lr: saved 0.05, now 0.1\)"):
        fit(NET, DATA, **{**TINY, "epochs": 1, "lr": 0.1}, checkpoint_dir=tmp_path, resume=True)
    wider = funcnn.mlp([4, 16, 3], "tanh", dropout=0.25)
    with pytest.raises(ValueError, match=r"\(epochs: saved 1, now 2; model: saved \{"):
        fit(wider, DATA, **{**TINY, "epochs": 2}, checkpoint_dir=tmp_path, resume=True)
