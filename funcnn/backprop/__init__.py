"""Backpropagation written by hand: forward-with-cache and backward for every block of the
notes, composed into the lecture's delta recursion for the dense models.

Autodiff is the reference here, not the implementation: nothing in this package calls
``jax.grad``, ``jax.vjp``, ``jax.jvp``, ``jax.value_and_grad`` or ``jax.linearize`` (a test
scans the source). :mod:`funcnn.gradcheck` compares these gradients with ``jax.grad`` and
with finite differences.

Entry points:

* :func:`value_and_grad` — ``value_and_grad(model, loss)(params, x, y, key=None)
  -> (loss, grads)``, jit-able, grads shaped like params.
* :func:`mlp_forward` / :func:`mlp_backward` — the forward pass with its cache, and the delta
  recursion returning ``(grads, dx, deltas)``.
* :func:`bridge` — the same loss as a ``jax.custom_vjp`` function, so ``jax.grad`` of it is the
  manual gradient.
* blocks (:mod:`funcnn.backprop.blocks`), attention pooling
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
from funcnn.backprop.blocks import (
    LOSS_BACKWARDS,
    ActivationCache,
    DenseAbsorbedCache,
    DenseCache,
    LossCache,
    activation_backward,
    activation_forward,
    binary_cross_entropy_backward,
    dense_absorbed_backward,
    dense_absorbed_forward,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
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
from funcnn.backprop.bridge import bridge
from funcnn.backprop.mlp import (
    MLPCache,
    linear_regression_grads,
    linear_regression_sgd_update,
    logistic_regression_grads,
    mlp_backward,
    mlp_forward,
    softmax_regression_grads,
    value_and_grad,
)

__all__ = [
    "LOSS_BACKWARDS",
    "ActivationCache",
    "DenseAbsorbedCache",
    "DenseCache",
    "DotProductCache",
    "LossCache",
    "MLPCache",
    "NWCache",
    "activation_backward",
    "activation_forward",
    "attention_pool_backward",
    "binary_cross_entropy_backward",
    "bridge",
    "dense_absorbed_backward",
    "dense_absorbed_forward",
    "dense_backward",
    "dense_forward",
    "dot_product_attention_backward",
    "dot_product_attention_forward",
    "dropout_backward",
    "dropout_forward",
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
    "parametric_nw_backward",
    "parametric_nw_forward",
    "softmax_backward",
    "softmax_cross_entropy_backward",
    "softmax_regression_grads",
    "sum_squared_error_backward",
    "value_and_grad",
]
