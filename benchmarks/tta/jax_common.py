"""What the JAX peers' scripts (Flax NNX, Equinox) write alike in plain JAX and optax: the
recipe's optimizer, the smoothed cross-entropy and the augmentation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from benchmarks.tta.common import cosine_lr


def adamw(run: dict, n_batches: int, weight_name: str) -> optax.GradientTransformation:
    """``optax.adamw`` with the recipe's cosine schedule, decoupled decay on the leaves whose
    path names ``weight_name`` (not the biases), and the recipe's gradient clipping."""
    total = int(run["epochs"]) * n_batches
    lr = (
        optax.cosine_decay_schedule(float(run["lr"]), total)
        if run.get("schedule") == "cosine"
        else cosine_lr(run, n_batches)(0)
    )

    def mask(params):
        return jax.tree_util.tree_map_with_path(
            lambda path, _: weight_name in jax.tree_util.keystr(path), params
        )

    tx = optax.adamw(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=run["weight_decay"], mask=mask)
    if run.get("clip_norm"):
        tx = optax.chain(optax.clip_by_global_norm(run["clip_norm"]), tx)
    return tx


def cross_entropy(logits, y, smoothing: float):
    """Softmax cross-entropy (batch mean) against ``(1 - eps) one_hot + eps / K``."""
    targets = optax.smooth_labels(jax.nn.one_hot(y, logits.shape[-1]), smoothing)
    return optax.softmax_cross_entropy(logits, targets).mean()


def augment(key, x, aug: dict | None):
    """MNIST-1D's augmentation of a batch ``(B, L)``: a circular shift of up to ``shift``, a
    scale ``1 + U(-scale, scale)`` per example, white noise of std ``noise``."""
    if not aug:
        return x
    B, L = x.shape
    k_shift, k_scale, k_noise = jax.random.split(key, 3)
    if aug.get("shift"):
        s = jax.random.randint(k_shift, (B, 1), -aug["shift"], aug["shift"] + 1)
        x = jnp.take_along_axis(x, (jnp.arange(L)[None, :] - s) % L, axis=1)
    if aug.get("scale"):
        x = x * (1.0 + jax.random.uniform(k_scale, (B, 1), x.dtype, -aug["scale"], aug["scale"]))
    if aug.get("noise"):
        x = x + aug["noise"] * jax.random.normal(k_noise, x.shape, x.dtype)
    return x


def circular_pad(x, k: int):
    """``x (..., L, C)`` wrapped around by ``k - 1`` positions (the smaller half first), as
    funcnn's "circular" padding."""
    lo = (k - 1) // 2
    return jnp.pad(x, [(0, 0)] * (x.ndim - 2) + [(lo, k - 1 - lo), (0, 0)], mode="wrap")
