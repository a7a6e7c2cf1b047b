"""benchmarks.peers: the registry, every contender's same work, the benchmark on tiny sizes.

A contender whose library is not installed is skipped as a parameter, with the reason."""

import importlib.metadata
import sys
import textwrap

import numpy as np
import pytest

from benchmarks import peers
from benchmarks.same_work import WorkMismatchError, assert_same_work
from tests.benchmarks.tiny import (
    BATCH,
    LR,
    SIZES,
    TIGHT,
    assert_valid,
    contender_params,
    installed,
)


def contenders(*, leave_out=()) -> list:
    """Every registered contender as a test parameter, skipped where its library is missing;
    torch_compile (its inductor compile takes tens of seconds) is marked slow."""
    return contender_params(peers.PACKAGES_OF, leave_out=leave_out, slow=("torch_compile",))


def test_the_registry_has_every_family_baseline_first():
    assert list(peers.CONTENDERS)[:2] == ["funcnn", "funcnn_jit"]
    assert set(peers.CONTENDERS) == {
        "funcnn",
        "funcnn_jit",
        "equinox",
        "flax_linen",
        "flax_nnx",
        "haiku",
        "torch_eager",
        "torch_compile",
    }
    assert peers.PACKAGES_OF["haiku"] == ("dm-haiku",)
    assert set(peers.PACKAGES) == {"equinox", "flax", "dm-haiku", "torch", "scikit-learn"}


def test_the_same_step_gives_the_same_numbers_to_the_bit(tiny):
    x, y, init, ref = tiny
    again = peers.work_trace(peers.CONTENDERS["funcnn"](SIZES, init, x, y, "float32", LR))
    assert again["losses"][0] != again["losses"][2]  # the steps did train
    assert all(np.array_equal(a, b) for a, b in zip(ref["losses"], again["losses"]))
    for a, b in zip(ref["params"], again["params"]):
        assert all(np.array_equal(a[k], b[k]) for k in ("w", "b"))
    same = peers.verify_same_work(ref, again, dtype="float32", what="t", lr=LR)
    assert same == {"max_rel_err": 0.0, "outliers": 0, "elements": 484}


@pytest.mark.parametrize("name", contenders())
def test_each_contender_does_funcnns_work(tiny, name):
    """Every library's step from funcnn's initial weights gives funcnn's losses and updated
    parameters to a few ulps (see TIGHT), not merely to the benchmark's tolerance."""
    x, y, init, ref = tiny
    c = peers.CONTENDERS[name](SIZES, init, x, y, "float32", LR)
    assert c.name == name
    trace = peers.work_trace(c)
    assert_same_work(ref["losses"], trace["losses"], what=f"{name}: losses", **TIGHT)
    assert_same_work(ref["params"], trace["params"], what=f"{name}: parameters", **TIGHT)


@pytest.mark.parametrize("name", contenders(leave_out=("funcnn", "torch_compile")))
def test_a_contender_with_another_learning_rate_is_caught(tiny, name):
    x, y, init, ref = tiny
    other = peers.work_trace(peers.CONTENDERS[name](SIZES, init, x, y, "float32", 3 * LR))
    with pytest.raises(WorkMismatchError, match="do not do the same work"):
        peers.verify_same_work(ref, other, dtype="float32", what=f"{name} lr 3e-3", lr=LR)


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


NEW_CONTENDER = """
    from benchmarks.peers.contender import copy_init, pure_contender
    from benchmarks.workloads import jnp_dtype

    PACKAGES = ()
    LR_FACTOR = {factor}


    def build(sizes, init, x, y, dtype, lr):
        import funcnn

        model = funcnn.mlp(tuple(sizes), "relu")
        params = copy_init(init, jnp_dtype(dtype))
        return pure_contender(
            "newlib", "a new library", model.apply, params, lambda p: p, x, y, LR_FACTOR * lr
        )


    CONTENDERS = {{"newlib": build}}
"""


@pytest.fixture
def new_contender(tmp_path, monkeypatch):
    """Register a contender written in one new module of the peers package."""

    def write(factor: float):
        (tmp_path / "newlib.py").write_text(textwrap.dedent(NEW_CONTENDER.format(factor=factor)))
        monkeypatch.setattr(peers, "__path__", [*peers.__path__, str(tmp_path)])
        monkeypatch.delitem(sys.modules, "benchmarks.peers.newlib", raising=False)
        builders, packages = peers.discover()
        monkeypatch.setattr(peers, "CONTENDERS", builders)
        monkeypatch.setattr(peers, "PACKAGES_OF", packages)

    yield write
    sys.modules.pop("benchmarks.peers.newlib", None)


def test_a_new_contender_is_one_module(new_contender):
    new_contender(1.0)
    assert "newlib" in peers.CONTENDERS
    records = peers.compare_workload(
        SIZES, BATCH, dtype="float32", budget_s=0.01, names=["funcnn", "newlib"], progress=False
    )
    assert [r["name"] for r in records] == ["funcnn", "newlib"]
    assert records[1]["runtime"] == "jax" and records[1]["how"] == "a new library"


def test_a_new_contender_doing_other_work_is_refused(new_contender):
    new_contender(3.0)
    with pytest.raises(WorkMismatchError, match="newlib vs funcnn"):
        peers.compare_workload(
            SIZES, BATCH, dtype="float32", budget_s=0.01, names=["funcnn", "newlib"], progress=False
        )


def test_peer_records(monkeypatch):
    sklearn_runs = []  # scikit-learn's epoch has its own tests (test_peers_sklearn.py)
    monkeypatch.setattr(peers, "sklearn_comparison", lambda **kw: sklearn_runs.append(kw) or [])
    records = peers.run(True, config=peers.SMOKE, progress=False)
    assert sklearn_runs == [
        dict(dataset="synthetic", epochs=20, device=records[0]["device"], hidden=(16, 16), batch=32)
    ]
    assert_valid(records, "peers")
    mlp = [r for r in records if r["workload"]["model"] == "mlp"]
    (base,) = [r for r in mlp if r["name"] == "funcnn"]
    assert base["ratio"] == 1.0 and base["baseline"] == "funcnn"
    ran = {r["name"] for r in mlp}
    skipped = base.get("skipped", {})
    # every contender ran or was skipped because its library is missing; torch_compile is
    # for the full suite only
    assert ran | set(skipped) == set(peers.CONTENDERS) - {"torch_compile"}
    for name, why in skipped.items():
        (package,) = peers.PACKAGES_OF[name]
        assert not installed(package) and f"pip install {package}" in why
    for r in mlp:
        assert r["ratio"] == pytest.approx(r["median_s"] / base["median_s"])
        assert r["same_work"]["steps"] == peers.CHECK_STEPS
        for package in peers.PACKAGES_OF[r["name"]]:
            assert r["versions"][package] == importlib.metadata.version(package)
    assert {r["runtime"] for r in mlp if r["name"].startswith("funcnn")} == {"funcnn"}
    torch_ran = any(r["runtime"] == "torch" for r in mlp)
    assert {r["cooldown_s"] for r in mlp} == {peers.COOLDOWN_S if torch_ran else 0.0}
