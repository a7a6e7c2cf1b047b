"""benchmarks.bench_conv_rnn on a tiny CNN and GRU: records, memory fields, same-work refusals."""

import jax
import numpy as np
import pytest

from benchmarks import bench_conv_rnn as bench
from benchmarks import report
from benchmarks.same_work import WorkMismatchError
from tests.benchmarks.tiny import assert_valid, results_of

MEMORY_KEYS = {*bench.MEMORY_FIELDS, "total_bytes"}


@pytest.fixture(scope="module")
def records():
    return bench.run(True, config=bench.SMOKE, progress=False)


def test_conv_rnn_records(records):
    assert_valid(records, "conv_rnn")
    assert [r["name"] for r in records] == [
        f"{m}/{p}/{g}" for m in ("cnn", "gru") for p in ("step", "epoch") for g in bench.GRADS
    ]
    epoch_batches = bench.SMOKE["epoch_batches"]
    for r in records:
        model, part, grad = r["name"].split("/")
        w = r["workload"]
        assert (w["model"], w["part"], r["grad"]) == (model, part, grad)
        assert w["batch"] == bench.SMOKE["batch"]
        assert w["steps_per_call"] == (epoch_batches if part == "epoch" else 1)
        assert r["baseline"] == f"{model}/{part}/autodiff"
        if grad == "autodiff":
            assert r["ratio"] == 1.0
        # The compiled runs trained alike: three steps, or one epoch, of the same losses.
        sw = r["same_work"]
        assert sw["steps"] == (epoch_batches if part == "epoch" else bench.CHECK_STEPS)
        assert sw["outliers"] == 0 and sw["max_rel_err"] < 1.0
        if part == "step":  # the hand-written gradients agree with autodiff's to rounding
            assert r["grad_max_rel_err"] <= 1e-5
    assert records[0]["workload"]["dropout"] == bench.SMOKE["models"]["cnn"].dropout
    assert records[4]["workload"]["sequence"] == [5, 2]


def test_every_record_has_the_memory_fields(records):
    for r in records:
        mem = r["memory"]
        assert set(mem) == MEMORY_KEYS
        assert all(v is None or (isinstance(v, int) and v >= 0) for v in mem.values())
        parts = [mem[k] for k in ("argument_bytes", "output_bytes", "alias_bytes", "temp_bytes")]
        if None not in parts:
            assert mem["total_bytes"] == parts[0] + parts[1] - parts[2] + parts[3]
            assert mem["alias_bytes"] > 0  # the state is donated: the outputs reuse it
        else:
            assert mem["total_bytes"] is None


def test_the_report_has_a_section_per_question(records):
    md = report.render(results_of(records), {})
    for heading in (
        "## conv_rnn",
        "### One jitted training step",
        "### One scanned epoch",
        "### Memory of the compiled programs",
    ):
        assert md.count(heading) == 1, heading
    assert "| cnn 12-4-8-4 | 8 | float32 |" in md
    assert "| gru 10-16-4 (5x2, H=8) | 3 x 8 |" in md
    assert md.count("| manual |") + md.count("| autodiff |") == len(records)


class Stats:
    argument_size_in_bytes = 100
    output_size_in_bytes = 60
    alias_size_in_bytes = 50
    temp_size_in_bytes = 30


class Compiled:
    def __init__(self, stats):
        self.stats = stats

    def memory_analysis(self):
        if isinstance(self.stats, Exception):
            raise self.stats
        return self.stats


def test_memory_of_keeps_what_the_backend_gives_and_none_for_the_rest():
    mem = bench.memory_of(Compiled(Stats()))
    assert mem["total_bytes"] == 100 + 60 - 50 + 30
    assert mem["peak_bytes_reported"] is None and mem["generated_code_bytes"] is None
    for nothing in (None, NotImplementedError("no analysis here"), [Stats(), Stats()]):
        mem = bench.memory_of(Compiled(nothing))
        assert set(mem) == MEMORY_KEYS and set(mem.values()) == {None}
    assert bench.memory_of(Compiled([Stats()]))["total_bytes"] == 140


def test_different_gradients_are_refused(monkeypatch):
    real = bench.value_and_grad

    def doubled(model, grad):
        f = real(model, grad)
        if grad == "autodiff":
            return f

        def twice(*args):
            loss, grads = f(*args)
            return loss, jax.tree.map(lambda g: 2 * g, grads)

        return twice

    monkeypatch.setattr(bench, "value_and_grad", doubled)
    spec = bench.SMOKE["models"]["gru"]
    model = spec.model()
    params = model.init(jax.random.key(0))
    x, y = bench.sequence_batch(spec, 8)
    with pytest.raises(WorkMismatchError, match="gru: manual and autodiff gradients differ"):
        bench.check_gradients(model, params, x, y, "float32")


def trace(losses, w):
    return {"losses": [np.asarray(losses)], "params": [{"w": np.asarray(w)}]}


def test_runs_that_train_differently_are_refused():
    w = np.linspace(-1.0, 1.0, 2000)
    ref = trace([2.0, 1.5], w)
    check = lambda cand: bench.check_same_trace(  # noqa: E731
        {"autodiff": ref, "manual": cand}, "float32", "cnn epoch", steps=2, first=2
    )
    same = check(trace([2.0, 1.5], w))
    assert same["outliers"] == 0 and same["steps"] == 2
    with pytest.raises(WorkMismatchError, match="cnn epoch: losses"):
        check(trace([2.0, 1.5 + 1e-3], w))
    # one parameter an Adam step away (rounding-level gradient): tolerated, and counted
    one = w.copy()
    one[7] += 1e-3
    assert check(trace([2.0, 1.5], one))["outliers"] == 1
    with pytest.raises(WorkMismatchError, match="cnn epoch: parameters"):
        check(trace([2.0, 1.5], w + 1e-3))  # every parameter moved: another workload
