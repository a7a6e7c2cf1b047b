"""Data-parallel training over 8 forced CPU host devices equals single-device training.

jax fixes its device count when it starts, so the check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=8``.
"""

import json
import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json
    import jax, jax.numpy as jnp, numpy as np
    import funcnn
    from funcnn.data import Dataset
    from funcnn.train import build_optimizer, fit, fit_sharded, make_mesh, make_epoch, init_state

    assert jax.device_count() == 8, jax.devices()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype(np.float32)
    y = (x[:, :3].sum(1) > 0).astype(np.int32) + (x[:, 3] > 0.7).astype(np.int32)
    data = Dataset(x[:64], y[:64], x[64:], y[64:], 3, "toy")
    net = funcnn.mlp([6, 16, 3], "relu", dropout=0.2)
    kw = dict(optimizer="adam", lr=0.01, epochs=3, batch_size=16, seed=1, progress=False)

    one = fit(net, data, **kw)
    eight = fit_sharded(net, data, devices=8, **kw)
    out = {"max_abs_diff": max(float(jnp.max(jnp.abs(a - b))) for a, b in
                               zip(jax.tree.leaves(one.params), jax.tree.leaves(eight.params))),
           "loss_one": one.history["loss"], "loss_eight": eight.history["loss"],
           "acc_one": one.history["test_accuracy"], "acc_eight": eight.history["test_accuracy"]}

    out["devices"] = [one.config["devices"], eight.config["devices"]]
    # The params come back replicated on all 8 devices ...
    w = eight.state.params[0]["w"]
    out["n_devices_w"] = len(w.sharding.device_set)
    out["w_replicated"] = bool(w.sharding.is_fully_replicated)
    # ... and the compiled epoch really splits the batch: it sums gradients across devices.
    mesh = make_mesh(8)
    opt, _ = build_optimizer("adam", lr=0.01)
    epoch = make_epoch(net, "softmax_cross_entropy", opt, batch_size=16, mesh=mesh)
    st = init_state(net, opt, jax.random.key(1))
    hlo = epoch.lower(st, jnp.asarray(data.x_train), jnp.asarray(data.y_train)).compile().as_text()
    out["all_reduce"] = "all-reduce" in hlo
    try:
        fit_sharded(net, data, devices=8, **{**kw, "batch_size": 12})
    except ValueError as e:
        out["error"] = str(e)
    print(json.dumps(out))
    """
)


def test_sharded_training_equals_single_device(tmp_path):
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=8",
        "JAX_PLATFORMS": "cpu",
    }
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["all_reduce"]
    assert out["n_devices_w"] == 8 and out["w_replicated"]
    assert out["devices"] == [1, 8]  # recorded in the run's configuration
    # Same result up to the order of the additions in the cross-device gradient sum.
    assert out["max_abs_diff"] < 1e-5, out
    assert max(abs(a - b) for a, b in zip(out["loss_one"], out["loss_eight"])) < 1e-5
    assert out["acc_one"] == out["acc_eight"]
    assert "batch_size (12) must be divisible by the number of devices (8)" in out["error"]
