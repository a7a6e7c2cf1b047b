"""The benchmark suite's machinery: records, the same-work check, and every benchmark on tiny
sizes (the numbers mean nothing here; speed is measured by ``python -m benchmarks``)."""

import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import __main__ as bench_main  # noqa: E402
from benchmarks import (  # noqa: E402
    bench_peers,
    bench_roofline,
    bench_scaling,
    bench_step,
    common,
    report,
)

ROOFLINE = 1e9  # a stand-in FLOP/s so step/scaling do not measure their own on tiny sizes


@pytest.fixture(scope="module")
def roofline_records():
    return bench_roofline.run(True, config=bench_roofline.SMOKE, progress=False)


@pytest.fixture(scope="module")
def step_records():
    return bench_step.run(True, config=bench_step.SMOKE, roofline=ROOFLINE, progress=False)


@pytest.fixture(scope="module")
def peer_records():
    return bench_peers.run(True, config=bench_peers.SMOKE, progress=False)


def _assert_valid(records, bench):
    assert records, f"{bench} returned no records"
    for r in records:
        assert common.validate_record(r) == [], r
        assert r["bench"] == bench
        assert r["repeats"] >= common.MIN_REPEATS
        json.dumps(r, allow_nan=False)


# --- schema --------------------------------------------------------------------------------


def _timing(n=common.MIN_REPEATS, t=1e-3):
    return common.Timing(tuple(t * (1 + 0.01 * i) for i in range(n)))


def test_make_record_has_the_schema():
    rec = common.make_record(
        "step",
        "funcnn",
        common.workload("mlp", (4, 8, 2), 16, "float32"),
        _timing(),
        compile_s=0.5,
        flops=1e6,
        flops_formula="test",
        roofline=2e9,
        ratio=1.0,
        baseline="funcnn",
    )
    assert common.validate_record(rec) == []
    for key in (*common.REQUIRED_FIELDS, "flops", "achieved_flops_per_s", "fraction_of_roofline"):
        assert key in rec
    assert rec["workload"] == {"model": "mlp", "sizes": [4, 8, 2], "batch": 16, "dtype": "float32"}
    assert rec["achieved_flops_per_s"] == pytest.approx(1e6 / rec["median_s"])
    assert rec["fraction_of_roofline"] == pytest.approx(rec["achieved_flops_per_s"] / 2e9)
    assert rec["device"]["platform"] == jax.devices()[0].platform
    assert rec["versions"]["jax"] == jax.__version__


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r.pop("median_s"), "missing field 'median_s'"),
        (lambda r: r.update(repeats=5), "repeats must be >= 20"),
        (lambda r: r.update(ratio=1.2), "ratio and baseline come together"),
        (lambda r: r["workload"].pop("dtype"), "missing field workload.'dtype'"),
        (lambda r: r.update(min_s=1.0), "min_s <= median_s <= max_s"),
        (lambda r: r.update(compile_s="fast"), "'compile_s' must be float or NoneType"),
        (lambda r: r.update(median_s=float("nan")), "finite"),
    ],
)
def test_validate_record_names_each_problem(mutate, message):
    rec = common.make_record(
        "x", "y", common.workload("mlp", None, None, "float32"), _timing(), compile_s=None
    )
    mutate(rec)
    problems = common.validate_record(rec)
    assert any(message in p for p in problems), problems
    with pytest.raises(ValueError, match="invalid benchmark record"):
        common.check_record(rec)


def test_normalize_record_brings_loose_fields_into_the_schema():
    t = _timing()
    loose = {
        "bench": "loop",
        "name": "scan",
        "batch": 128,
        "dtype": "float32",
        "sizes": (40, 256, 10),
        "median_s": np.float64(t.median),
        "min_s": t.min,
        "max_s": t.max,
        "repeats": np.int64(20),
        "ratio": np.float32(0.5),
        "baseline": "python_loop",
        "device": "cpu",
    }
    assert common.validate_record(loose) != []
    rec = common.normalize_record(loose)
    assert common.validate_record(rec) == [], common.validate_record(rec)
    assert rec["workload"]["batch"] == 128 and rec["workload"]["sizes"] == [40, 256, 10]
    assert rec["device"]["reported_as"] == "cpu" and rec["compile_s"] is None


# --- harness -------------------------------------------------------------------------------


def test_time_interleaved_alternates_and_counts():
    order = []
    calls = {n: (lambda n=n: order.append(n)) for n in "ab"}
    timings = common.time_interleaved(calls, repeats=common.MIN_REPEATS, warmup=0)
    assert {n: t.repeats for n, t in timings.items()} == {n: common.MIN_REPEATS for n in "ab"}
    assert order[:4] == ["a", "b", "b", "a"]
    with pytest.raises(ValueError, match="repeats must be >= 20"):
        common.time_interleaved(calls, repeats=5)


def test_time_interleaved_lets_every_contender_follow_every_other():
    order = []
    calls = {n: (lambda n=n: order.append(n)) for n in "abcd"}
    common.time_interleaved(calls, repeats=200, warmup=0)
    rounds = [order[i : i + 4] for i in range(0, len(order), 4)]
    assert all(sorted(r) == list("abcd") for r in rounds)  # each round calls each once
    follows = {(p, n): 0 for p in "abcd" for n in "abcd" if p != n}
    for p, n in zip(order, order[1:]):
        if p != n:
            follows[p, n] += 1
    assert min(follows.values()) > 0.5 * max(follows.values())  # no fixed neighbour


def test_chain_feeds_outputs_back():
    chain = common.Chain(lambda a, b, x: (a + x, b * 2, a), (1, 1), (10,))
    for _ in range(3):
        chain()
    assert chain.state == (31, 8) and chain.last[2] == 21


def test_flop_counts():
    sizes, batch = (40, 256, 256, 10), 128
    params = 40 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert common.mlp_params(sizes) == params
    assert common.mlp_step_flops(sizes, batch) == 6 * params * batch
    macs = 40 * 256 + 256 * 256 + 256 * 10
    assert common.mlp_step_matmul_flops(sizes, batch) == 2 * batch * (3 * macs - 40 * 256)


def test_atomic_writes_leave_only_the_file(tmp_path):
    path = tmp_path / "sub" / "r.json"
    common.write_json_atomic(str(path), {"a": np.float32(1.5), "b": [np.int64(2)]})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [2]}
    assert os.listdir(path.parent) == ["r.json"]
    with pytest.raises(ValueError):  # NaN is not JSON: nothing half-written remains
        common.write_json_atomic(str(path), {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [2]}
    assert os.listdir(path.parent) == ["r.json"]


# --- the same-work check -------------------------------------------------------------------

SIZES, BATCH = (8, 16, 16, 4), 8


@pytest.fixture(scope="module")
def workload():
    x, y = common.mlp_batch(SIZES, BATCH)
    base = common.funcnn_step(SIZES, fresh=False)
    init = [{k: np.asarray(v) for k, v in layer.items()} for layer in base.state.params]
    ref = bench_peers.reference_trace(SIZES, init, x, y, "float32", 1e-3)
    return x, y, init, ref


def test_same_work_passes_for_the_same_work(workload):
    x, y, init, ref = workload
    again = bench_peers.work_trace(bench_peers.build_funcnn(SIZES, init, x, y, "float32", 1e-3))
    assert again["losses"][0] != again["losses"][2]  # the steps did train
    same = bench_peers.verify_same_work(ref, again, dtype="float32", what="t", lr=1e-3)
    assert same["outliers"] == 0 and same["max_rel_err"] < 1.0


@pytest.mark.parametrize("change", ["lr", "labels", "init"])
def test_same_work_catches_a_different_workload(workload, change):
    x, y, init, ref = workload
    lr = 2e-3 if change == "lr" else 1e-3
    if change == "labels":
        y = (y + 1) % SIZES[-1]
    if change == "init":
        init = [dict(layer, b=layer["b"] + 0.01) for layer in init]
    other = bench_peers.reference_trace(SIZES, init, x, y, "float32", lr)
    with pytest.raises(common.WorkMismatchError, match="do not do the same work"):
        bench_peers.verify_same_work(ref, other, dtype="float32", what="different", lr=1e-3)


def test_same_work_catches_structure_and_shape():
    a = {"losses": [np.ones(())], "params": [{"w": np.ones((2, 3))}]}
    with pytest.raises(common.WorkMismatchError, match="shape"):
        common.assert_same_work(a, {"losses": [np.ones(())], "params": [{"w": np.ones((3, 2))}]})
    with pytest.raises(common.WorkMismatchError, match="structures"):
        common.assert_same_work(a, {"losses": [np.ones(())], "params": []})


def test_same_work_tolerates_only_a_few_bounded_outliers():
    a = {"w": np.linspace(-1.0, 1.0, 10_000).reshape(100, 100)}
    few = {"w": a["w"].copy()}
    few["w"][3, :5] += 1e-3  # five coordinates an Adam step apart
    opts = dict(outlier_fraction=1e-3, outlier_atol=6e-3)
    same = common.assert_same_work(a, few, **opts)
    assert same.outliers == 5 and same.elements == 10_000
    with pytest.raises(common.WorkMismatchError, match="beyond rtol"):
        common.assert_same_work(a, few)  # no allowance by default
    many = {"w": a["w"] + 1e-3}  # every coordinate moved: another workload
    with pytest.raises(common.WorkMismatchError, match="10000 of 10000 elements"):
        common.assert_same_work(a, many, **opts)
    far = {"w": few["w"].copy()}
    far["w"][0, 0] += 0.1  # one coordinate beyond any Adam step
    with pytest.raises(common.WorkMismatchError, match="beyond 0.006"):
        common.assert_same_work(a, far, **opts)


def test_a_haiku_step_with_another_learning_rate_is_caught(workload):
    pytest.importorskip("haiku")
    x, y, init, ref = workload
    same = bench_peers.work_trace(bench_peers.build_haiku(SIZES, init, x, y, "float32", 1e-3))
    assert bench_peers.verify_same_work(ref, same, dtype="float32", what="haiku", lr=1e-3)
    other = bench_peers.work_trace(bench_peers.build_haiku(SIZES, init, x, y, "float32", 3e-3))
    with pytest.raises(common.WorkMismatchError):
        bench_peers.verify_same_work(ref, other, dtype="float32", what="haiku lr 3e-3", lr=1e-3)


# --- each benchmark on tiny sizes ------------------------------------------------------------


def test_roofline_records(roofline_records):
    _assert_valid(roofline_records, "roofline")
    assert [r["is_roofline"] for r in roofline_records].count(True) == 1
    for r in roofline_records:
        n = r["workload"]["sizes"][0]
        assert r["flops"] == 2 * n**3 and 0 < r["fraction_of_roofline"] <= 1.0
    best = bench_roofline.roofline_from(roofline_records, "float32")
    assert best == max(r["achieved_flops_per_s"] for r in roofline_records)


def test_step_records(step_records):
    _assert_valid(step_records, "step")
    (r,) = step_records
    sizes, batch = bench_step.SMOKE["workloads"][0]
    assert r["workload"]["sizes"] == list(sizes) and r["workload"]["batch"] == batch
    assert r["flops"] == common.mlp_step_flops(sizes, batch)
    assert r["fraction_of_roofline"] == pytest.approx(r["flops"] / r["median_s"] / ROOFLINE)
    assert r["compile_s"] > 0
    assert r["paired_matmul_n"] == bench_step.SMOKE["pair_n"] and r["fraction_of_paired_matmul"] > 0


def test_scaling_records():
    records = bench_scaling.run(True, config=bench_scaling.SMOKE, roofline=ROOFLINE, progress=False)
    _assert_valid(records, "scaling")
    cfg = bench_scaling.SMOKE
    assert [r["x"] for r in records if r["sweep"] == "width"] == list(cfg["width_sweep"]["widths"])
    assert [r["x"] for r in records if r["sweep"] == "batch"] == list(cfg["batch_sweep"]["batches"])


def test_peer_records(peer_records):
    _assert_valid(peer_records, "peers")
    mlp = [r for r in peer_records if r["workload"]["model"] == "mlp"]
    (base,) = [r for r in mlp if r["name"] == "funcnn"]
    assert base["ratio"] == 1.0 and base["baseline"] == "funcnn"
    ran = {r["name"] for r in mlp}
    skipped = base.get("skipped", {})
    # every contender either ran (and passed the same-work check) or says why not
    assert ran | set(skipped) | {"torch_compile"} == set(bench_peers.CONTENDERS)
    for r in mlp:
        assert r["same_work"]["max_rel_err"] < 1.0
        assert (
            r["same_work"]["outliers"] <= bench_peers.OUTLIER_FRACTION * r["same_work"]["elements"]
        )
        assert r["ratio"] == pytest.approx(r["median_s"] / base["median_s"])
    epoch = {r["name"]: r for r in peer_records if r["workload"]["model"] == "mlp_epoch"}
    if "sklearn" in epoch:
        assert 0.0 <= epoch["sklearn"]["test_accuracy"] <= 1.0
        assert epoch["funcnn_epoch"]["test_accuracy"] > 0.5  # learnable synthetic problem


def test_main_runs_a_suite_and_writes_a_report(tmp_path, roofline_records):
    out = tmp_path / "run"
    code = bench_main.main(
        ["--suite", "smoke", "--out", str(out), "--only", "roofline", "step", "--no-progress"]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["suite"] == "smoke" and results["invalid_records"] == []
    assert {r["bench"] for r in results["records"]} == {"roofline", "step"}
    for r in results["records"]:
        assert common.validate_record(r) == []
    md = (out / "RESULTS.md").read_text()
    assert "## roofline" in md and "## step" in md and "| n | dtype |" in md
    assert (out / "step.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the report can be redrawn from the JSON alone
    assert report.main([str(out)]) == 0


def test_main_rejects_unknown_benchmarks():
    with pytest.raises(SystemExit):
        bench_main.parse_args(["--only", "nonsense"])


def test_funcnn_step_matches_a_direct_computation():
    """The step the benchmarks time computes one Adam update of the softmax-CE loss."""
    import funcnn

    fs = common.funcnn_step(SIZES, fresh=False)
    model = funcnn.mlp(SIZES, "relu")
    x, y = common.mlp_batch(SIZES, BATCH)

    @jax.jit
    def expected(p):  # first Adam step: update = -lr * g / (|g| + eps)
        loss, g = jax.value_and_grad(lambda p: funcnn.softmax_cross_entropy(model.apply(p, x), y))(
            p
        )
        return jax.tree.map(lambda p, g: p - 1e-3 * g / (jnp.abs(g) + common.ADAM_EPS), p, g), loss

    p_expect, loss_expect = expected(fs.state.params)
    state, metrics = fs.step(fs.state, (x, y))
    np.testing.assert_allclose(metrics["loss"], loss_expect, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(p_expect)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
