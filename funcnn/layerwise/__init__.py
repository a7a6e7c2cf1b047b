"""Layer-wise training (the lecture's (u.1) and (u.2), block coordinate descent) and the
non-convexity of a deep linear network's loss.

The lecture contrasts two forms of a gradient update. The optimization method updates every
weight at once along a descent direction taken at one point,

    w^(k+1) = w^(k) - alpha^(k) d^(k)                                            (u.1)

while its application to a network updates each layer with its own step size,

    W_j^(k+1) = W_j^(k) - alpha_j^(k) D_j^(k),   j = 1..J                          (u.2)

and "(u.1) and (u.2) correspond to non-equivalent optimization problems". Here a network's
parameters are a list with one block per layer (``params[j]``, the lecture's ``W_{j+1}``:
indices are 0-based), and

* :func:`step_sizes` resolves ``alpha_j^(k)``: one number, one schedule ``k -> alpha`` for
  every layer, or one number or schedule per layer;
* :func:`update_blocks` is one update ``params[j] - alpha_j^(k) grads[j]`` of the chosen
  blocks (all of them: (u.1) with per-layer step sizes; one: a block of (u.2)), and
  :func:`block_updates` the same increments as an optax-style updates tree;
* :func:`simultaneous_step` is (u.1): every block's gradient at the same point;
* :func:`layerwise_sweep` is (u.2) as block coordinate descent (BCD) with one gradient step
  per block: the blocks in turn, each gradient taken after the blocks before it moved.

The same two forms with any optax optimizer's direction ``D_j^(k)`` in place of the gradient
(what ``funcnn.train`` trains with, ``RunConfig(layer_lr=..., update=...)``):

* :func:`scale_by_layer` multiplies block ``j``'s update by ``c_j``, so a learning rate
  ``eta_k`` becomes ``alpha_j^(k) = c_j eta_k`` (``c_j = 0`` freezes the block);
* :func:`by_block` runs the optimizer on every block apart, one state per block, and
  :func:`optimizer_sweep` is (u.2) as BCD with it: one optimizer step per block, in turn.

For a **deep linear network** (:func:`funcnn.deep_linear`, identity activations) the lecture's
BCD ("optimize layer j while fixing the others ... suitable for deep linear networks") can
solve each block exactly: with the other layers fixed, the network is linear in ``W_j`` and
the squared loss is a convex quadratic in it. :func:`solve_block` solves it by least squares
(minimum-norm, so rank deficiency is handled), :func:`exact_bcd_sweep` sweeps the blocks.

The loss is **not jointly convex** (the lecture: "why? due to composition and coupling among
each layer. Simple two layer linear NN example"): ``W_j -> W_j S``, ``W_{j+1} -> S^-1
W_{j+1}`` leaves the network's map unchanged (:func:`equivalent_params`), so every minimizer
comes with a family of minimizers, and the segment between two of them leaves the minimum.
:func:`minimizer_pair` builds two global minimizers; for a sign flip ``S = -I`` their
midpoint has ``W_j = 0``, the map collapses to a constant and its loss is strictly higher.

Everything here is a pure function of arrays, jit-able with the block indices static.
"""

from funcnn.layerwise.deep_linear import (
    check_deep_linear,
    end_to_end,
    equivalent_params,
    exact_bcd_sweep,
    factorize,
    interpolate,
    least_squares_map,
    minimizer_pair,
    solve_block,
)
from funcnn.layerwise.steps import (
    Alpha,
    StepSize,
    block_indices,
    block_updates,
    check_grad_fn,
    layerwise_sweep,
    simultaneous_step,
    step_sizes,
    update_blocks,
)
from funcnn.layerwise.transforms import (
    BlockwiseState,
    BlockwiseTransformation,
    by_block,
    check_multipliers,
    optimizer_sweep,
    scale_by_layer,
)

__all__ = [
    "Alpha",
    "BlockwiseState",
    "BlockwiseTransformation",
    "StepSize",
    "block_indices",
    "block_updates",
    "by_block",
    "check_deep_linear",
    "check_grad_fn",
    "check_multipliers",
    "end_to_end",
    "equivalent_params",
    "exact_bcd_sweep",
    "factorize",
    "interpolate",
    "layerwise_sweep",
    "least_squares_map",
    "minimizer_pair",
    "optimizer_sweep",
    "scale_by_layer",
    "simultaneous_step",
    "solve_block",
    "step_sizes",
    "update_blocks",
]
