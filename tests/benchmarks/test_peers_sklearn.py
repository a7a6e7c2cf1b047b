"""benchmarks.peers.sklearn: scikit-learn's epoch against funcnn's, on a synthetic problem."""

import pytest

pytest.importorskip("sklearn", reason="scikit-learn is in the experiments extra")

from benchmarks.peers import sklearn as sk  # noqa: E402
from benchmarks.same_work import WorkMismatchError  # noqa: E402
from tests.benchmarks.tiny import assert_valid  # noqa: E402

OPTS = dict(dataset="synthetic", hidden=(16, 16), batch=32, epochs=20)


def test_sklearn_records():
    records = sk.sklearn_comparison(**OPTS)
    assert_valid(records, "peers")
    funcnn, sklearn = records
    assert (funcnn["name"], sklearn["name"]) == ("funcnn_epoch", "sklearn")
    assert funcnn["workload"]["sizes"] == [8, 16, 16, 4] and funcnn["workload"]["n_train"] == 256
    assert sklearn["baseline"] == "funcnn_epoch" and funcnn["ratio"] == 1.0
    assert funcnn["epochs_trained"] == sklearn["epochs_trained"] == 21
    # both trained from the same start on a learnable problem (4 classes: chance is 0.25)
    assert funcnn["test_accuracy"] > 0.5 and sklearn["test_accuracy"] > 0.5
    assert sklearn["versions"]["scikit-learn"] is not None


def test_an_sklearn_model_with_another_learning_rate_is_refused(monkeypatch):
    real = sk.sklearn_classifier
    monkeypatch.setattr(
        sk, "sklearn_classifier", lambda init, batch, lr, **kw: real(init, batch, 3 * lr, **kw)
    )
    with pytest.raises(WorkMismatchError, match="sklearn vs funcnn"):
        sk.sklearn_comparison(**OPTS)
