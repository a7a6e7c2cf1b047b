"""scikit-learn's ``MLPClassifier`` as the non-JAX CPU baseline of a whole epoch.

Its epoch time on MNIST-1D (solver "adam", alpha 0, batch 128) against one funcnn epoch (a
jitted ``lax.scan`` over the shuffled batches), with both models' test accuracy after the
same number of epochs from the same initial weights. Not a step contender (it has no
``CONTENDERS``): :func:`benchmarks.peers.run` calls :func:`sklearn_comparison` after the
step comparisons.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.peers.contender import Unavailable, require
from benchmarks.records import make_record, workload
from benchmarks.same_work import assert_same_work
from benchmarks.timing import MIN_REPEATS, compile_jitted, paired_ratio, time_interleaved
from benchmarks.workloads import ADAM_EPS, ADAM_LR, funcnn_step

PACKAGES = ("scikit-learn",)

OUTLIER_FRACTION = 1e-3
"""Share of parameters allowed to differ by up to two learning rates after the first update
(opposite Adam steps where a gradient is at rounding level)."""


def load_classification(name: str, seed: int = 0):
    """``(x_train, y_train, x_test, y_test)`` float32 / int32, standardized with training stats.

    "mnist1d" is ``funcnn.data.load("mnist1d")`` (generated once, then cached); "synthetic" is
    a small random problem for tests.
    """
    if name == "synthetic":
        rng = np.random.default_rng(seed)
        w = rng.normal(size=(8, 4))
        x = rng.normal(size=(384, 8)).astype(np.float32)
        y = np.argmax(x @ w, axis=1).astype(np.int32)
        return x[:256], y[:256], x[256:], y[256:]
    if name != "mnist1d":
        raise ValueError(f'dataset must be "mnist1d" or "synthetic"; got {name!r}.')
    from funcnn.data import load

    ds = load("mnist1d", seed=seed)
    return ds.x_train, ds.y_train, ds.x_test, ds.y_test


def sklearn_classifier(init, batch, lr, shuffle, seed=0):
    """An ``MLPClassifier`` with funcnn's sizes, Adam, no L2, starting from ``init``."""
    nn = require("sklearn.neural_network", "scikit-learn")
    layers = iter(init)

    class FromInit(nn.MLPClassifier):
        # sklearn draws each layer's initial (coef (n_in, n_out), intercept) in _init_coef;
        # returning funcnn's instead gives both libraries the same starting point.
        def _init_coef(self, fan_in, fan_out, dtype):
            layer = next(layers)
            if layer["w"].shape != (fan_in, fan_out):
                raise ValueError(
                    f"init layer has shape {layer['w'].shape}; sklearn wants {(fan_in, fan_out)}"
                )
            return layer["w"].astype(dtype), layer["b"].astype(dtype)

    hidden = tuple(int(l["w"].shape[1]) for l in init[:-1])
    return FromInit(
        hidden_layer_sizes=hidden,
        activation="relu",
        solver="adam",
        alpha=0.0,
        batch_size=batch,
        learning_rate_init=lr,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=ADAM_EPS,
        shuffle=shuffle,
        random_state=seed,
    )


def check_same_work(sizes, init, data, batch: int, lr: float) -> dict:
    """Assert sklearn and funcnn do the same work, batches in order (sklearn with
    ``shuffle=False``): the parameters after one batch, and the mean loss of three
    consecutive batches (sklearn's ``loss_`` of a ``partial_fit``).

    sklearn's Adam adds eps to the un-corrected second-moment root (``lr_t m / (sqrt(v) +
    eps)``) where optax adds it to the corrected one, so the parameter check uses an absolute
    tolerance of lr / 4. Returns the parameter comparison's summary.
    """
    x_tr, y_tr = data[0], data[1]
    classes = np.arange(sizes[-1])
    ref = funcnn_step(sizes, lr=lr, fresh=False)
    ref_state, ref_losses, after_one = ref.state_from(init), [], None
    for i in range(3):
        xb, yb = (jnp.asarray(a[i * batch : (i + 1) * batch]) for a in (x_tr, y_tr))
        ref_state, metrics = ref.step(ref_state, (xb, yb))
        ref_losses.append(float(metrics["loss"]))
        if i == 0:
            after_one = [{k: np.asarray(v) for k, v in l.items()} for l in ref_state.params]
    one = sklearn_classifier(init, batch, lr, shuffle=False)
    one.partial_fit(x_tr[:batch], y_tr[:batch], classes=classes)
    three = sklearn_classifier(init, batch, lr, shuffle=False)
    three.partial_fit(x_tr[: 3 * batch], y_tr[: 3 * batch], classes=classes)
    assert_same_work(
        np.mean(ref_losses), three.loss_, rtol=1e-4, atol=0.0, what="sklearn vs funcnn: loss"
    )
    check = assert_same_work(
        after_one,
        [{"w": w, "b": b} for w, b in zip(one.coefs_, one.intercepts_)],
        rtol=1e-2,
        atol=lr / 4,
        what="sklearn vs funcnn: parameters",
        outlier_fraction=OUTLIER_FRACTION,
        outlier_atol=2.0 * lr,
    )
    return dataclasses.asdict(check)


def time_epochs(fs, init, data, batch: int, lr: float, epochs: int) -> dict:
    """sklearn ``partial_fit`` epochs (its own shuffling, last partial batch kept) against
    ``funcnn.train.make_epoch`` (one compiled call: a fresh permutation per epoch,
    ``lax.scan`` of the step over n // batch batches, last partial batch dropped), timed
    interleaved; then each model's test accuracy.

    Returns:
        ``{"timings", "compile_s", "accuracy": {"funcnn", "sklearn"}}``.
    """
    from funcnn.train import evaluate, make_epoch

    x_tr, y_tr, x_te, y_te = data
    classes = np.arange(fs.model.sizes[-1])
    clf = sklearn_classifier(init, batch, lr, shuffle=True)
    xd, yd = jax.device_put(x_tr), jax.device_put(y_tr)
    epoch_fn = make_epoch(fs.model, "softmax_cross_entropy", fs.optimizer, batch_size=batch)
    state = {"s": fs.state_from(init)}
    _, compile_s = compile_jitted(epoch_fn, state["s"], xd, yd)

    def funcnn_epoch():
        state["s"], metrics = epoch_fn(state["s"], xd, yd)
        return metrics

    def sklearn_epoch():
        clf.partial_fit(x_tr, y_tr, classes=classes)

    timings = time_interleaved(
        {"funcnn": funcnn_epoch, "sklearn": sklearn_epoch},
        repeats=max(epochs, MIN_REPEATS),
        warmup=1,
    )
    test = evaluate(
        fs.model, state["s"].params, jnp.asarray(x_te), jnp.asarray(y_te), "softmax_cross_entropy"
    )
    accuracy = {"funcnn": float(test["accuracy"]), "sklearn": float(clf.score(x_te, y_te))}
    return {"timings": timings, "compile_s": compile_s, "accuracy": accuracy}


def sklearn_comparison(
    *,
    dataset: str = "mnist1d",
    hidden=(256, 256),
    batch: int = 128,
    epochs: int = 20,
    lr: float = ADAM_LR,
    device=None,
) -> list[dict]:
    """scikit-learn's ``MLPClassifier`` epoch against funcnn's scanned epoch, interleaved.

    Both start from funcnn's initial weights, are checked to do the same work
    (:func:`check_same_work`), and train ``epochs + 1`` epochs (one untimed); each record
    carries its model's test accuracy. Returns no records when scikit-learn is missing.
    """
    data = load_classification(dataset)
    n_classes = int(max(data[1].max(), data[3].max()) + 1)
    sizes = (data[0].shape[1], *hidden, n_classes)
    if batch > len(data[0]):
        raise ValueError(f"batch ({batch}) must be <= the training set size ({len(data[0])}).")
    try:
        require("sklearn.neural_network", "scikit-learn")
    except Unavailable as e:
        print(f"[peers] skipping sklearn: {e}")
        return []
    fs = funcnn_step(sizes, lr=lr)
    init = [{k: np.asarray(v) for k, v in layer.items()} for layer in fs.state.params]
    check = check_same_work(sizes, init, data, batch, lr)
    run = time_epochs(fs, init, data, batch, lr, epochs)
    timings, base = run["timings"], run["timings"]["funcnn"]
    work = workload(
        "mlp_epoch", sizes, batch, "float32", dataset=dataset, n_train=len(data[0]), lr=lr
    )
    n_epochs = base.repeats + 1
    hows = {
        "funcnn": "funcnn.train.make_epoch: lax.scan over n // batch shuffled batches",
        "sklearn": "MLPClassifier.partial_fit, one epoch per call (float32)",
    }
    records = [
        make_record(
            "peers",
            "funcnn_epoch" if name == "funcnn" else name,
            work,
            timings[name],
            compile_s=run["compile_s"] if name == "funcnn" else None,
            ratio=timings[name].median / base.median,
            baseline="funcnn_epoch",
            device=device,
            packages=PACKAGES,
            ratio_paired=paired_ratio(timings[name], base),
            test_accuracy=run["accuracy"][name],
            epochs_trained=n_epochs,
            how=hows[name],
            same_work=dict(check, steps=1),
        )
        for name in ("funcnn", "sklearn")
    ]
    print(
        f"[peers] {dataset} epoch: funcnn {base.median * 1e3:.1f} ms (test acc "
        f"{run['accuracy']['funcnn']:.3f}), sklearn {timings['sklearn'].median * 1e3:.1f} ms "
        f"(test acc {run['accuracy']['sklearn']:.3f}), {records[1]['ratio']:.1f}x; "
        f"{n_epochs} epochs each"
    )
    return records
