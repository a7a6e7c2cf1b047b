"""Flax NNX: ``nnx.Linear``/``nnx.Conv``/``nnx.Dropout`` modules, an ``nnx.Optimizer`` over
``optax.adamw`` (cosine schedule, decay on kernels only) and an ``nnx.jit`` training step, as
Flax's NNX tutorials write them; the batch sliced from host arrays; seeds one after another."""

from __future__ import annotations

import numpy as np

from benchmarks.tta.common import Data, Monitor, Task, job_result

PACKAGES = ("flax",)
IMPORTS = ("jax", "optax", "flax.nnx")
HOW = "nnx modules, nnx.Optimizer(optax.adamw), nnx.jit train and eval steps; seeds in turn"


def build(nnx, task: Task, layers: list[dict], seed: int):
    """The network of ``task`` holding funcnn's initial ``layers`` (same layouts as Flax's:
    dense kernel ``(n_in, n_out)``, convolution kernel ``(k, c_in, c_out)``)."""
    import jax.numpy as jnp

    from benchmarks.tta.jax_common import circular_pad

    rngs = nnx.Rngs(params=seed, dropout=seed)
    o = task.options

    def load(module, p):
        module.kernel[...] = jnp.asarray(p["w"])
        module.bias[...] = jnp.asarray(p["b"])
        return module

    class MLP(nnx.Module):
        def __init__(self):
            self.layers = nnx.List([load(nnx.Linear(*p["w"].shape, rngs=rngs), p) for p in layers])
            self.dropout = nnx.Dropout(o["dropout"], rngs=rngs)

        def __call__(self, x):
            for layer in self.layers[:-1]:
                x = self.dropout(nnx.relu(layer(x)))
            return self.layers[-1](x)

    class CNN(nnx.Module):
        def __init__(self):
            k = int(o["kernel_size"])
            self.k = k
            self.convs = nnx.List(
                [
                    load(
                        nnx.Conv(
                            p["w"].shape[1],
                            p["w"].shape[2],
                            (k,),
                            strides=(s,),
                            padding="VALID",
                            rngs=rngs,
                        ),
                        p,
                    )  # fmt: skip
                    for p, s in zip(layers[:-1], o["strides"])
                ]
            )
            self.dropout = nnx.Dropout(o["dropout"], rngs=rngs)
            self.out = load(nnx.Linear(*layers[-1]["w"].shape, rngs=rngs), layers[-1])

        def __call__(self, x):
            h = x[:, :, None]  # (B, L, 1): channels last
            for conv in self.convs:
                h = nnx.relu(conv(circular_pad(h, self.k)))
            return self.out(self.dropout(h.mean(axis=1)))

    return MLP() if task.model == "mlp" else CNN()


def train(task: Task, data: Data, t0: float) -> dict:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from benchmarks.tta.jax_common import adamw, augment, cross_entropy

    run, aug, smoothing = task.run, task.run.get("augment"), float(task.run["label_smoothing"])
    B, epochs = int(run["batch_size"]), int(run["epochs"])
    n_batches = data.orders.shape[2] // B
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)

    @nnx.jit
    def train_step(model, optimizer, rngs, x, y):
        x = augment(rngs.augment(), x, aug)

        def loss_fn(model):
            return cross_entropy(model(x), y, smoothing)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    @nnx.jit
    def accuracy(model, x, y):
        return jnp.mean(jnp.argmax(model(x), axis=-1) == y)

    results, n_params = [], None
    for i, seed in enumerate(task.seeds):
        model = build(nnx, task, data.layers(i), seed)
        n_params = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(nnx.state(model, nnx.Param)))
        optimizer = nnx.Optimizer(model, adamw(run, n_batches, "kernel"), wrt=nnx.Param)
        rngs = nnx.Rngs(augment=seed)
        monitor = Monitor(seed, task.target, epochs, t0)
        for e in range(epochs):
            model.train()
            for idx in data.orders[i, e].reshape(n_batches, B):
                train_step(model, optimizer, rngs, data.x_train[idx], data.y_train[idx])
            model.eval()
            if monitor.epoch(e + 1, float(accuracy(model, x_test, y_test))):
                break
        results.append(monitor.result())
    return job_result(results, t0, n_params, HOW)
