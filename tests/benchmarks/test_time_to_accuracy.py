"""benchmarks.bench_time_to_accuracy: the data order handed to the peers is funcnn's, every
installed implementation trains funcnn's network to the target in a fresh process, and the
report shows the rows, the absent ones and the plot.

A peer whose library is not installed is skipped as a parameter, with the reason; the smoke
rows train a few epochs of tiny networks on a small synthetic problem."""

import jax
import numpy as np
import pytest

from benchmarks import bench_time_to_accuracy as bench
from benchmarks import report
from benchmarks.records import validate_record
from benchmarks.report_tta import tta_targets
from tests.benchmarks.tiny import installed, results_of

PEERS = ["flax_nnx", "equinox", "torch", "sklearn"]
CONFIG = {
    **bench.SMOKE,
    "rows": [("mlp", 1, 1), ("cnn", 2, 1)],  # fit and fit_seeds; one seed and seeds in turn
    # the MLP without dropout (and, as in SMOKE, without augmentation): every implementation
    # computes the same updates, so their test accuracies after each epoch agree (the CNN
    # keeps dropout and augmentation)
    "options": {**bench.SMOKE["options"], "mlp": {"hidden": (16, 16), "dropout": 0.0}},
}


def peer_params():
    params = []
    for name in PEERS:
        missing = [p for p in bench.IMPLS[name] if not installed(p)]
        reason = f"{', '.join(missing)} not installed"
        params.append(pytest.param(name, marks=pytest.mark.skipif(bool(missing), reason=reason)))
    return params


@pytest.fixture(scope="module")
def records():
    """One smoke run of every installed implementation: MLP x1, CNN x2."""
    return bench.run(config=CONFIG, progress=False)


def by(records, name, model, seeds):
    (r,) = [
        r
        for r in records
        if r["name"] == name and (r["workload"]["model"], r["workload"]["seeds"]) == (model, seeds)
    ]
    return r


def test_the_data_order_is_funcnns():
    """The order written for the peers is the one funcnn's epoch draws for that seed."""
    from funcnn.train.state import TrainState, init_params
    from funcnn.train.step import batches_for

    ds = bench.synthetic()
    model = bench.recipe("mlp", CONFIG)[0]
    net = bench.make_data("mlp", (3,), ds, model, {"batch_size": 32, "epochs": 2})[1]
    _, run_key = init_params(net, jax.random.key(3))
    order = bench.data_order(3, 2, len(ds.x_train), 32)
    n_batches = len(ds.x_train) // 32
    for e in range(2):
        state = TrainState(None, None, jax.numpy.int32(e * n_batches), run_key)
        xb, yb = batches_for(state, ds.x_train, ds.y_train, 32)
        np.testing.assert_array_equal(np.asarray(xb).reshape(-1, 40), ds.x_train[order[e]])
        np.testing.assert_array_equal(np.asarray(yb).reshape(-1), ds.y_train[order[e]])
    assert len(set(order[0])) == order.shape[1] and not np.array_equal(order[0], order[1])


def test_funcnn_reaches_the_target_alone_and_vmapped(records):
    for r in records:
        assert validate_record(r) == [], r
        assert r["bench"] == "time_to_accuracy" and r["unit"] == "run"
    single, vmapped = by(records, "funcnn", "mlp", 1), by(records, "funcnn", "cnn", 2)
    assert single["mode"] == "single" and vmapped["mode"] == "vmap"
    for r in (single, vmapped):
        assert r["reached"], r
        assert r["median_s"] <= r["train_s"] <= r["process_s"]
        assert r["param_count"] == r["workload"]["params"]
        assert r["first_epoch_s"] > 0 and r["curves"][0][0][0] == 1
    assert len(vmapped["curves"]) == 2
    assert "sklearn" in vmapped["skipped"]


@pytest.mark.parametrize("name", peer_params())
def test_each_peer_trains_funcnns_network_on_funcnns_batches(records, name):
    """Same parameter count (asserted by the harness), and without dropout the same test
    accuracy as funcnn after every epoch (within one test example): the same initial
    parameters, batches, optimizer and schedule. scikit-learn has no schedule for Adam and
    no CNN."""
    base, r = by(records, "funcnn", "mlp", 1), by(records, name, "mlp", 1)
    assert r["param_count"] == base["param_count"] and r["mode"] == "single"
    if name == "sklearn":
        cnn = by(records, "funcnn", "cnn", 2)["skipped"]["sklearn"]
        assert "no convolutional network" in cnn
        return
    accs = [a for _, _, a in r["curves"][0]]
    base_accs = [a for _, _, a in base["curves"][0]]
    n = min(len(accs), len(base_accs))
    np.testing.assert_allclose(accs[:n], base_accs[:n], atol=1.5 / 128)
    cnn = by(records, name, "cnn", 2)
    assert cnn["mode"] == "sequential" and len(cnn["curves"]) == 2
    assert cnn["param_count"] == by(records, "funcnn", "cnn", 2)["param_count"]


def test_the_report_has_the_table_the_targets_and_the_plot(records, tmp_path):
    command = "python -m benchmarks --only time_to_accuracy --suite smoke"
    results = results_of(
        records, command=command, benches={"time_to_accuracy": {"status": "ok", "seconds": 1.0}}
    )
    written = report.write_report(str(tmp_path), results)
    md = (tmp_path / "RESULTS.md").read_text()
    assert "## time_to_accuracy" in md and "funcnn (vmap)" in md
    assert "absent: scikit-learn has no convolutional network" in md
    assert open(written["time_to_accuracy"], "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = tta_targets(records)
    assert len(rows) == 2 and all(v in ("met", "missed") for _, _, v in rows)


def test_a_network_of_another_size_is_refused(monkeypatch):
    """The harness compares every script's parameter count with funcnn's model's."""
    from benchmarks.same_work import WorkMismatchError

    def fake(task, workdir, timeout_s):  # a job's result, without the process
        seed = {"seed": 0, "reached": True, "epochs_to_target": 1, "time_to_target_s": 1.0,
                "best_accuracy": 0.9, "epochs": 1, "first_epoch_s": 1.0, "epoch_s": None,
                "curve": [(1, 1.0, 0.9)]}  # fmt: skip
        n = 16 * 40 + 16 + 16 * 16 + 16 + 16 * 4 + 4 + (task.impl == "torch")
        return {"reached": True, "time_to_target_s": 1.0, "train_s": 1.0, "best_accuracy": 0.9,
                "seeds": [seed], "param_count": n, "how": "", "process_s": 2.0, "import_s": 0.5}  # fmt: skip

    monkeypatch.setattr(bench, "run_job", fake)
    monkeypatch.setattr(bench, "missing", lambda impl: None)
    config = {**CONFIG, "rows": [("mlp", 1, 1)]}
    (r,) = bench.run(config=config, impls=["funcnn"], progress=False)
    assert r["param_count"] == r["workload"]["params"] == 996
    with pytest.raises(WorkMismatchError, match="torch trains 997 parameters"):
        bench.run(config=config, impls=["funcnn", "torch"], progress=False)
