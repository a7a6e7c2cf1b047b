"""benchmarks.peers: the same-work check of the contenders, and the benchmark on tiny sizes."""

import pytest

from benchmarks import peers
from benchmarks.same_work import WorkMismatchError
from tests.benchmarks.tiny import LR, SIZES, assert_valid


def test_same_work_passes_for_the_same_work(tiny):
    x, y, init, ref = tiny
    again = peers.work_trace(peers.CONTENDERS["funcnn"](SIZES, init, x, y, "float32", LR))
    assert again["losses"][0] != again["losses"][2]  # the steps did train
    same = peers.verify_same_work(ref, again, dtype="float32", what="t", lr=LR)
    assert same["outliers"] == 0 and same["max_rel_err"] < 1.0


@pytest.mark.parametrize("change", ["lr", "labels", "init"])
def test_same_work_catches_a_different_workload(tiny, change):
    x, y, init, ref = tiny
    lr = 2e-3 if change == "lr" else LR
    if change == "labels":
        y = (y + 1) % SIZES[-1]
    if change == "init":
        init = [dict(layer, b=layer["b"] + 0.01) for layer in init]
    other = peers.reference_trace(SIZES, init, x, y, "float32", lr)
    with pytest.raises(WorkMismatchError, match="do not do the same work"):
        peers.verify_same_work(ref, other, dtype="float32", what="different", lr=LR)


def test_a_haiku_step_with_another_learning_rate_is_caught(tiny):
    pytest.importorskip("haiku")
    x, y, init, ref = tiny
    same = peers.work_trace(peers.CONTENDERS["haiku"](SIZES, init, x, y, "float32", LR))
    assert peers.verify_same_work(ref, same, dtype="float32", what="haiku", lr=LR)
    other = peers.work_trace(peers.CONTENDERS["haiku"](SIZES, init, x, y, "float32", 3e-3))
    with pytest.raises(WorkMismatchError):
        peers.verify_same_work(ref, other, dtype="float32", what="haiku lr 3e-3", lr=LR)


def test_peer_records():
    records = peers.run(True, config=peers.SMOKE, progress=False)
    assert_valid(records, "peers")
    mlp = [r for r in records if r["workload"]["model"] == "mlp"]
    (base,) = [r for r in mlp if r["name"] == "funcnn"]
    assert base["ratio"] == 1.0 and base["baseline"] == "funcnn"
    ran = {r["name"] for r in mlp}
    skipped = base.get("skipped", {})
    # every contender either ran (and passed the same-work check) or says why not
    assert ran | set(skipped) | {"torch_compile"} == set(peers.CONTENDERS)
    for r in mlp:
        assert r["same_work"]["max_rel_err"] < 1.0
        assert r["same_work"]["outliers"] <= peers.OUTLIER_FRACTION * r["same_work"]["elements"]
        assert r["ratio"] == pytest.approx(r["median_s"] / base["median_s"])
    epoch = {r["name"]: r for r in records if r["workload"]["model"] == "mlp_epoch"}
    if "sklearn" in epoch:
        assert 0.0 <= epoch["sklearn"]["test_accuracy"] <= 1.0
        assert epoch["funcnn_epoch"]["test_accuracy"] > 0.5  # learnable synthetic problem
