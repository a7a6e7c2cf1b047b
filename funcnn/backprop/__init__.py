"""Backpropagation written by hand: forward-with-cache and backward for every block of the
notes, composed into the delta recursion for any serial composition of blocks.

Autodiff is the reference here, not the implementation: nothing in this package calls
``jax.grad``, ``jax.vjp``, ``jax.jvp``, ``jax.value_and_grad`` or ``jax.linearize`` (a test
scans the source). :mod:`funcnn.gradcheck` compares these gradients with ``jax.grad`` and
with finite differences.

Entry points:

* :func:`value_and_grad` — ``value_and_grad(model, loss)(params, x, y, key=None)
  -> (loss, grads)`` for any model, jit-able, grads shaped like params.
* :func:`forward` / :func:`backward` — any block's or model's registered pair
  (:func:`register` adds one: :mod:`funcnn.backprop.registry`); :func:`serial_forward` /
  :func:`serial_backward` — the recursion over the blocks of a composition.
* :func:`mlp_forward` / :func:`mlp_backward` — the lecture's form for dense networks, one
  line per equation, returning ``(grads, dx, deltas)``.
* :func:`index_forward` / :func:`index_backward` / :func:`index_value_and_grad` — the math
  paper's backprop in index notation (absorbed bias, one ``jnp.einsum`` per equation):
  :mod:`funcnn.backprop.index_notation`.
* :func:`bridge` — the same loss as a ``jax.custom_vjp`` function, so ``jax.grad`` of it is the
  manual gradient.
* the dense blocks (:mod:`funcnn.backprop.dense`), losses and penalties
  (:mod:`funcnn.backprop.losses`), attention pooling
  (:mod:`funcnn.backprop.attention`) and the digest's closed forms for linear, logistic and
  softmax regression.
"""

from funcnn.backprop.attention import (
    DotProductCache,
    NWCache,
    attention_pool_backward,
    dot_product_attention_backward,
    dot_product_attention_forward,
    nadaraya_watson_backward,
    nadaraya_watson_forward,
    parametric_nw_backward,
    parametric_nw_forward,
)
from funcnn.backprop.bridge import bridge
from funcnn.backprop.closed_forms import (
    linear_regression_grads,
    linear_regression_sgd_update,
    logistic_regression_grads,
    softmax_regression_grads,
)
from funcnn.backprop.conv import ConvCache, conv_backward, conv_forward
from funcnn.backprop.dense import (
    ActivationCache,
    DenseAbsorbedCache,
    DenseCache,
    activation_backward,
    activation_forward,
    dense_absorbed_backward,
    dense_absorbed_forward,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
)
from funcnn.backprop.index_notation import (
    IndexCache,
    index_backward,
    index_forward,
    index_value_and_grad,
)
from funcnn.backprop.losses import (
    LOSS_BACKWARDS,
    LossCache,
    add_penalties,
    add_penalty_grads,
    binary_cross_entropy_backward,
    l1_penalty_backward,
    l1_penalty_forward,
    l2_penalty_backward,
    l2_penalty_forward,
    loss_backward,
    loss_forward,
    mse_backward,
    softmax_backward,
    softmax_cross_entropy_backward,
    sum_squared_error_backward,
)
from funcnn.backprop.mlp import MLPCache, mlp_backward, mlp_forward
from funcnn.backprop.objective import value_and_grad
from funcnn.backprop.pool import PoolCache
from funcnn.backprop.recurrent import (
    BPTT,
    RecurrentCache,
    bptt,
    recurrent_backward,
    recurrent_forward,
)
from funcnn.backprop.registry import BlockPair, backward, forward, pair, register, registered
from funcnn.backprop.serial import SerialCache, serial_backward, serial_forward
from funcnn.backprop.structure import residual_backward, residual_forward

__all__ = [
    "BPTT",
    "LOSS_BACKWARDS",
    "ActivationCache",
    "BlockPair",
    "ConvCache",
    "DenseAbsorbedCache",
    "DenseCache",
    "DotProductCache",
    "IndexCache",
    "LossCache",
    "MLPCache",
    "NWCache",
    "PoolCache",
    "RecurrentCache",
    "SerialCache",
    "activation_backward",
    "activation_forward",
    "add_penalties",
    "add_penalty_grads",
    "attention_pool_backward",
    "backward",
    "binary_cross_entropy_backward",
    "bptt",
    "bridge",
    "conv_backward",
    "conv_forward",
    "dense_absorbed_backward",
    "dense_absorbed_forward",
    "dense_backward",
    "dense_forward",
    "dot_product_attention_backward",
    "dot_product_attention_forward",
    "dropout_backward",
    "dropout_forward",
    "forward",
    "index_backward",
    "index_forward",
    "index_value_and_grad",
    "l1_penalty_backward",
    "l1_penalty_forward",
    "l2_penalty_backward",
    "l2_penalty_forward",
    "linear_regression_grads",
    "linear_regression_sgd_update",
    "logistic_regression_grads",
    "loss_backward",
    "loss_forward",
    "mlp_backward",
    "mlp_forward",
    "mse_backward",
    "nadaraya_watson_backward",
    "nadaraya_watson_forward",
    "pair",
    "parametric_nw_backward",
    "parametric_nw_forward",
    "recurrent_backward",
    "recurrent_forward",
    "register",
    "registered",
    "residual_backward",
    "residual_forward",
    "serial_backward",
    "serial_forward",
    "softmax_backward",
    "softmax_cross_entropy_backward",
    "softmax_regression_grads",
    "sum_squared_error_backward",
    "value_and_grad",
]
