"""Equinox: ``eqx.nn.Linear``/``eqx.nn.Conv1d``/``eqx.nn.Dropout`` modules on one example,
``jax.vmap``-ped over the batch; ``optax.adamw`` (cosine schedule, decay on weights only) and
an ``eqx.filter_jit`` step with ``eqx.filter_value_and_grad``, as Equinox's examples write
them; the batch sliced from host arrays; seeds one after another."""

from __future__ import annotations

import numpy as np

from benchmarks.tta.common import Data, Monitor, Task, job_result

PACKAGES = ("equinox",)
IMPORTS = ("jax", "optax", "equinox")
HOW = (
    "eqx.nn modules vmapped over the batch, optax.adamw, eqx.filter_jit step with "
    "filter_value_and_grad; seeds in turn"
)


def build(task: Task, layers: list[dict], seed: int):
    """The network of ``task`` holding funcnn's initial ``layers`` (Equinox stores a dense
    weight as ``(n_out, n_in)``, a convolution's as ``(c_out, c_in, k)``)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    o = task.options
    keys = iter(jax.random.split(jax.random.key(seed), len(layers)))

    def load(module, p, perm):
        w, b = jnp.asarray(p["w"].transpose(perm)), jnp.asarray(p["b"])
        return eqx.tree_at(lambda m: (m.weight, m.bias), module, (w, b.reshape(module.bias.shape)))

    def linear(p):
        return load(eqx.nn.Linear(*p["w"].shape, key=next(keys)), p, (1, 0))

    class MLP(eqx.Module):
        layers: list
        dropout: eqx.nn.Dropout

        def __call__(self, x, key=None, inference=False):
            ks = (
                [None] * len(self.layers)
                if key is None
                else jax.random.split(key, len(self.layers))
            )
            for layer, k in zip(self.layers[:-1], ks):
                x = self.dropout(jax.nn.relu(layer(x)), key=k, inference=inference)
            return self.layers[-1](x)

    class CNN(eqx.Module):
        convs: list
        dropout: eqx.nn.Dropout
        out: eqx.nn.Linear

        def __call__(self, x, key=None, inference=False):
            h = x[None, :]  # (1, L): channels first, one example
            for conv in self.convs:
                h = jax.nn.relu(conv(h))
            return self.out(self.dropout(h.mean(axis=1), key=key, inference=inference))

    dropout = eqx.nn.Dropout(o["dropout"])
    if task.model == "mlp":
        return MLP([linear(p) for p in layers], dropout)
    k = int(o["kernel_size"])
    convs = [
        load(
            eqx.nn.Conv1d(
                p["w"].shape[1],
                p["w"].shape[2],
                k,
                stride=s,
                padding=(k - 1) // 2,
                padding_mode="CIRCULAR",
                key=next(keys),
            ),
            p,
            (2, 1, 0),
        )  # fmt: skip
        for p, s in zip(layers[:-1], o["strides"])
    ]
    return CNN(convs, dropout, linear(layers[-1]))


def train(task: Task, data: Data, t0: float) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from benchmarks.tta.jax_common import adamw, augment, cross_entropy

    run, aug, smoothing = task.run, task.run.get("augment"), float(task.run["label_smoothing"])
    B, epochs = int(run["batch_size"]), int(run["epochs"])
    n_batches = data.orders.shape[2] // B
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    tx = adamw(run, n_batches, ".weight")

    def loss_fn(model, x, y, key):
        logits = jax.vmap(model)(x, jax.random.split(key, x.shape[0]))
        return cross_entropy(logits, y, smoothing)

    @eqx.filter_jit
    def train_step(model, opt_state, key, x, y):
        key, k_aug, k_drop = jax.random.split(key, 3)
        loss, grads = eqx.filter_value_and_grad(loss_fn)(model, augment(k_aug, x, aug), y, k_drop)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, key, loss

    @eqx.filter_jit
    def accuracy(model, x, y):
        logits = jax.vmap(lambda xi: model(xi, inference=True))(x)
        return jnp.mean(jnp.argmax(logits, axis=-1) == y)

    results, n_params = [], None
    for i, seed in enumerate(task.seeds):
        model = build(task, data.layers(i), seed)
        params = eqx.filter(model, eqx.is_array)
        n_params = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(params))
        opt_state = tx.init(params)
        key = jax.random.key(seed)
        monitor = Monitor(seed, task.target, epochs, t0)
        for e in range(epochs):
            for idx in data.orders[i, e].reshape(n_batches, B):
                model, opt_state, key, _ = train_step(
                    model, opt_state, key, data.x_train[idx], data.y_train[idx]
                )
            if monitor.epoch(e + 1, float(accuracy(model, x_test, y_test))):
                break
        results.append(monitor.result())
    return job_result(results, t0, n_params, HOW)
