"""benchmarks.bench_gru_peers: every library's GRU step does funcnn's work, and a GRU with
another cell (PyTorch's and Flax's: the reset gate after the hidden matmul) is refused.

A contender whose library is not installed is skipped as a parameter, with the reason."""

import importlib.metadata

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import bench_gru_peers as bench
from benchmarks import peers, report
from benchmarks.nets import reference_init, sequence_batch
from benchmarks.peers.contender import copy_tree, pure_contender
from benchmarks.same_work import WorkMismatchError, assert_same_work
from tests.benchmarks.tiny import LR, TIGHT, assert_valid, contender_params, installed

SPEC, BATCH = bench.SMOKE["spec"], bench.SMOKE["batch"]


@pytest.fixture(scope="module")
def tiny():
    """``(x, y, init, reference)``: the batch, funcnn's initial params and funcnn's trace."""
    x, y = sequence_batch(SPEC, BATCH)
    init = reference_init(SPEC)
    ref = peers.work_trace(bench.CONTENDERS["funcnn"](SPEC, init, x, y, "float32", LR))
    return x, y, init, ref


def test_the_registry_has_every_family_funcnn_first():
    assert list(bench.CONTENDERS)[:2] == ["funcnn", "funcnn_manual"]
    assert set(bench.CONTENDERS) == {
        "funcnn",
        "funcnn_manual",
        "equinox",
        "flax_nnx",
        "torch_eager",
    }
    assert bench.PACKAGES_OF["flax_nnx"] == ("flax",) and bench.PACKAGES_OF["funcnn"] == ()


@pytest.mark.parametrize("name", contender_params(bench.PACKAGES_OF))
def test_each_gru_contender_does_funcnns_work(tiny, name):
    """Each library's GRU step from funcnn's initial weights gives funcnn's losses and
    updated parameters to a few ulps (TIGHT), not merely to the benchmark's tolerance."""
    x, y, init, ref = tiny
    c = bench.CONTENDERS[name](SPEC, init, x, y, "float32", LR)
    assert c.name == name
    trace = peers.work_trace(c)
    assert trace["losses"][0] != trace["losses"][2]  # the steps did train
    assert_same_work(ref["losses"], trace["losses"], what=f"{name}: losses", **TIGHT)
    assert_same_work(ref["params"], trace["params"], what=f"{name}: parameters", **TIGHT)


def jax_gru(params, x, *, reset_after: bool):
    """The bidirectional GRU network in plain JAX from funcnn's params; ``reset_after``
    computes PyTorch's and Flax's candidate ``tanh(x W_xh + r o (h W_hh) + b_h)``."""
    H = SPEC.hidden
    seq = x.reshape(x.shape[0], SPEC.steps, SPEC.n_in)

    def last_state(p, seq):
        xw = jnp.swapaxes(seq @ p["w_x"] + p["b"][None, None, :], 0, 1)

        def step(h, xw_t):
            zr = jax.nn.sigmoid(xw_t[:, : 2 * H] + h @ p["w_h"][:, : 2 * H])
            z, r = zr[:, :H], zr[:, H:]
            rec = r * (h @ p["w_h"][:, 2 * H :]) if reset_after else (r * h) @ p["w_h"][:, 2 * H :]
            hh = jnp.tanh(xw_t[:, 2 * H :] + rec)
            return z * h + (1 - z) * hh, None

        return jax.lax.scan(step, jnp.zeros((seq.shape[0], H)), xw)[0]

    rnn, dense = params
    h = jnp.concatenate([last_state(rnn["fwd"], seq), last_state(rnn["bwd"], seq[:, ::-1])], 1)
    return h @ dense["w"] + dense["b"][None, :]


def register_jax_gru(monkeypatch, *, reset_after: bool):
    def build(spec, init, x, y, dtype, lr):
        apply = lambda p, x: jax_gru(p, x, reset_after=reset_after)  # noqa: E731
        params = copy_tree(init, jnp.float32)
        return pure_contender("jaxgru", "plain JAX", apply, params, lambda p: p, x, y, lr)

    monkeypatch.setitem(bench.CONTENDERS, "jaxgru", build)
    monkeypatch.setitem(bench.PACKAGES_OF, "jaxgru", ())


def test_a_contender_with_the_same_cell_is_timed(monkeypatch):
    register_jax_gru(monkeypatch, reset_after=False)
    records = bench.run(True, config=bench.SMOKE, names=["jaxgru"], progress=False)
    assert [r["name"] for r in records] == ["funcnn", "jaxgru"]
    assert records[1]["same_work"]["outliers"] == 0


def test_a_gru_with_the_reset_gate_after_the_matmul_is_refused(monkeypatch):
    register_jax_gru(monkeypatch, reset_after=True)
    with pytest.raises(WorkMismatchError, match="jaxgru vs funcnn"):
        bench.run(True, config=bench.SMOKE, names=["jaxgru"], progress=False)


def test_gru_peer_records():
    records = bench.run(True, config=bench.SMOKE, progress=False)
    assert_valid(records, "gru_peers")
    base = records[0]
    assert base["name"] == "funcnn" and base["ratio"] == 1.0
    ran = {r["name"] for r in records}
    skipped = base.get("skipped", {})
    # every contender ran or was skipped because its library is missing
    assert ran | set(skipped) == set(bench.CONTENDERS)
    for name, why in skipped.items():
        (package,) = bench.PACKAGES_OF[name]
        assert not installed(package) and f"pip install {package}" in why
    (manual,) = [r for r in records if r["name"] == "funcnn_manual"]
    for r in records:
        assert r["workload"]["model"] == "gru" and r["workload"]["hidden"] == SPEC.hidden
        assert r["ratio"] == pytest.approx(r["median_s"] / base["median_s"])
        assert r["ratio_to_manual"] == pytest.approx(r["median_s"] / manual["median_s"])
        assert r["same_work"]["steps"] == peers.CHECK_STEPS
        for package in bench.PACKAGES_OF[r["name"]]:
            assert r["versions"][package] == importlib.metadata.version(package)
    md = "\n".join(report.gru_peers_section(records, {}))
    assert md.startswith("## gru_peers: the gru 10-16-4 (5x2, H=8) step (batch 8, float32)")
    assert all(f"| {r['name']} |" in md for r in records)
    assert np.isfinite([r["ratio"] for r in records]).all()
