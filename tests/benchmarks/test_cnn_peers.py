"""benchmarks.bench_cnn_peers: every library's CNN step does funcnn's work (AdamW, circular
padding), and a step that pads with zeros or drops the weight decay is refused.

A contender whose library is not installed is skipped as a parameter, with the reason."""

import importlib.metadata

import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import bench_cnn_peers as bench
from benchmarks import peers, report
from benchmarks.nets import cnn_adamw, cnn_step_flops, reference_init, sequence_batch
from benchmarks.peers.contender import adamw, copy_tree, pure_contender, weights_only
from benchmarks.same_work import WorkMismatchError, assert_same_work
from tests.benchmarks.tiny import TIGHT, assert_valid, contender_params, installed

SPEC, BATCH = bench.SMOKE["spec"], bench.SMOKE["batch"]
ADAMW = cnn_adamw()
LR, WD = ADAMW["lr"], ADAMW["weight_decay"]


@pytest.fixture(scope="module")
def tiny():
    """``(x, y, init, reference)``: the batch, funcnn's initial params and funcnn's trace."""
    x, y = sequence_batch(SPEC, BATCH)
    init = reference_init(SPEC)
    funcnn = bench.CONTENDERS["funcnn"](SPEC, init, x, y, "float32", LR, weight_decay=WD)
    return x, y, init, peers.work_trace(funcnn)


def test_the_registry_has_every_family_funcnn_first():
    assert list(bench.CONTENDERS)[:2] == ["funcnn", "funcnn_manual"]
    assert set(bench.CONTENDERS) == {
        "funcnn",
        "funcnn_manual",
        "equinox",
        "flax_linen",
        "flax_nnx",
        "haiku",
        "torch_eager",
    }
    assert bench.PACKAGES_OF["haiku"] == ("dm-haiku",) and bench.PACKAGES_OF["funcnn"] == ()


def test_weights_only_marks_the_weights_of_every_layout():
    funcnn_tree = [{"w": 1, "b": 2}]
    flax_tree = {"params": {"Conv_0": {"kernel": 1, "bias": 2}}}
    assert weights_only(funcnn_tree) == [{"w": True, "b": False}]
    assert weights_only(flax_tree) == {"params": {"Conv_0": {"kernel": True, "bias": False}}}


@pytest.mark.parametrize("name", contender_params(bench.PACKAGES_OF))
def test_each_cnn_contender_does_funcnns_work(tiny, name):
    """Each library's CNN step from funcnn's initial weights gives funcnn's losses and
    updated parameters to a few ulps (TIGHT), not merely to the benchmark's tolerance."""
    x, y, init, ref = tiny
    c = bench.CONTENDERS[name](SPEC, init, x, y, "float32", LR, weight_decay=WD)
    assert c.name == name
    trace = peers.work_trace(c)
    assert trace["losses"][0] != trace["losses"][2]  # the steps did train
    assert_same_work(ref["losses"], trace["losses"], what=f"{name}: losses", **TIGHT)
    assert_same_work(ref["params"], trace["params"], what=f"{name}: parameters", **TIGHT)


def jax_cnn_trace(x, y, init, *, padding: str = "circular", decay: bool = True):
    """The trace of the CNN in plain JAX from funcnn's params: circular (funcnn's) or zero
    ("same") padding, with the weight decay or without."""
    model = SPEC.__class__(**{**SPEC.__dict__, "padding": padding}).model()
    tx = adamw(LR, WD if decay else 0.0)
    params = copy_tree(init, jnp.float32)
    c = pure_contender(
        "jaxcnn", "plain JAX", model.apply, params, lambda p: p, x, y, LR, optimizer=tx
    )
    return peers.work_trace(c)


def test_a_plain_jax_cnn_with_funcnns_padding_and_decay_does_the_same_work(tiny):
    x, y, init, ref = tiny
    same = peers.verify_same_work(ref, jax_cnn_trace(x, y, init), dtype="float32", what="t", lr=LR)
    assert same["outliers"] == 0


@pytest.mark.parametrize(
    "change", [{"padding": "same"}, {"decay": False}], ids=["zero padding", "no weight decay"]
)
def test_a_cnn_step_that_differs_is_refused(tiny, change):
    x, y, init, ref = tiny
    trace = jax_cnn_trace(x, y, init, **change)
    with pytest.raises(WorkMismatchError, match="jaxcnn vs funcnn"):
        peers.verify_same_work(ref, trace, dtype="float32", what="jaxcnn vs funcnn", lr=LR)


def test_the_timed_step_has_no_dropout():
    spec = SPEC.__class__(**{**SPEC.__dict__, "dropout": 0.2})
    with pytest.raises(ValueError, match="no dropout"):
        bench.run(True, config=dict(bench.SMOKE, spec=spec), progress=False)


def test_cnn_peer_records():
    records = bench.run(True, config=bench.SMOKE, progress=False)
    assert_valid(records, "cnn_peers")
    base = records[0]
    assert base["name"] == "funcnn" and base["ratio"] == 1.0
    skipped = base.get("skipped", {})
    assert {r["name"] for r in records} | set(skipped) == set(bench.CONTENDERS)
    for name, why in skipped.items():
        (package,) = bench.PACKAGES_OF[name]
        assert not installed(package) and f"pip install {package}" in why
    (manual,) = [r for r in records if r["name"] == "funcnn_manual"]
    for r in records:
        w = r["workload"]
        assert (w["model"], w["optimizer"], w["lr"], w["weight_decay"]) == ("cnn", "adamw", LR, WD)
        assert w["channels"] == list(SPEC.channels) and w["dropout"] == 0.0
        assert r["flops"] == cnn_step_flops(SPEC, BATCH)
        assert r["ratio"] == pytest.approx(r["median_s"] / base["median_s"])
        assert r["ratio_to_manual"] == pytest.approx(r["median_s"] / manual["median_s"])
        assert r["same_work"]["steps"] == peers.CHECK_STEPS
        for package in bench.PACKAGES_OF[r["name"]]:
            assert r["versions"][package] == importlib.metadata.version(package)
    md = "\n".join(report.cnn_peers_section(records, {"cnn_peers": "/x/cnn_peers.png"}))
    assert md.startswith("## cnn_peers: the cnn 12-4-8-4 step (batch 8, float32, AdamW)")
    assert all(f"| {r['name']} |" in md for r in records) and "![cnn_peers](cnn_peers.png)" in md
    assert np.isfinite([r["ratio"] for r in records]).all()
