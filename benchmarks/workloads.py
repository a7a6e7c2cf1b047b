"""The MLP workload that step, peers, scaling and manual_vs_autodiff share.

An MLP ``funcnn.mlp(sizes, "relu")`` trained with the softmax cross-entropy (batch mean) and
``optax.adam(1e-3, eps=1e-8)`` on a fixed batch put on the device first; its FLOP counts;
funcnn's own training step (:func:`funcnn_step`); and the per-(suite, platform)
configurations every benchmark looks up with :func:`suite_config`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from benchmarks.timing import Chain, compile_jitted

DTYPES = ("float32", "bfloat16")

MNIST1D = (40, 256, 256, 10)
"""The MNIST-1D MLP of ``funcnn train`` (small: dispatch and elementwise passes matter)."""
LARGE = (784, 1024, 1024, 10)
"""The large MLP whose step is read against the matmul roofline (compute-bound on a CPU)."""

ADAM_LR = 1e-3
ADAM_EPS = 1e-8  # optax.adam's and torch.optim.Adam's default; stated so peers match it.
FLOPS_FORMULA = "6 * params * batch (forward 2PB, backward 4PB)"
FLOPS_EXACT_FORMULA = (
    "2 * batch * (3 * sum(n_in * n_out) - n_0 * n_1): every matmul of forward and backward, "
    "without the input gradient of the first layer that a training step never computes"
)


def suite_config(configs: Mapping, quick: bool, platform: str | None = None) -> dict:
    """``configs[(suite, "cpu" or "accel")]`` for this suite and the platform JAX runs on."""
    import jax

    platform = platform or jax.devices()[0].platform
    return dict(configs[("quick" if quick else "full", "cpu" if platform == "cpu" else "accel")])


def jnp_dtype(dtype: str):
    """The JAX dtype named ``dtype`` (one of :data:`DTYPES`)."""
    import jax.numpy as jnp

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}; got {dtype!r}.")
    return jnp.dtype(dtype)


# --- FLOP counts ---------------------------------------------------------------------------


def mlp_params(sizes: Sequence[int]) -> int:
    """Weights and biases of a dense MLP with layer sizes ``sizes``."""
    return int(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])))


def mlp_step_flops(sizes: Sequence[int], batch: int) -> int:
    """FLOPs of one training step counted the customary way: ``6 * params * batch``."""
    return 6 * mlp_params(sizes) * int(batch)


def mlp_step_matmul_flops(sizes: Sequence[int], batch: int) -> int:
    """The matmul FLOPs a training step really performs (see :data:`FLOPS_EXACT_FORMULA`)."""
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 2 * int(batch) * (3 * macs - sizes[0] * sizes[1])


# --- data and funcnn's step ----------------------------------------------------------------


def mlp_batch(sizes: Sequence[int], batch: int, dtype: str = "float32", seed: int = 0):
    """A fixed batch on the device: ``x (batch, n_0)`` standard normal, ``y (batch,)`` int32
    labels in ``[0, n_L)`` (drawn with NumPy's ``default_rng(seed)``, then ``device_put``)."""
    import jax

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], size=(batch,), dtype=np.int32)
    return jax.device_put(x.astype(jnp_dtype(dtype))), jax.device_put(y)


@dataclasses.dataclass
class FuncnnStep:
    """funcnn's training step for ``mlp(sizes, "relu")`` + softmax cross-entropy + Adam.

    ``step`` is ``funcnn.train.make_train_step(model, "softmax_cross_entropy", adam,
    grad_norm=False)``: ``step(state, (x, y)) -> (state, {"loss"})`` with the state donated
    (the engine's step without its optional gradient-norm metric, which no peer computes:
    the contenders do the same work).

    Attributes:
        model: the ``funcnn.MLP``.
        step: the jitted step.
        optimizer: ``optax.adam(lr, eps=1e-8)``.
        state: the initial ``funcnn.train.TrainState``.
        impl: which API built the step (recorded in the workload).
    """

    model: Any
    step: Callable
    optimizer: Any
    state: Any
    impl: str

    def state_from(self, params) -> Any:
        """A fresh TrainState at ``params`` (copied onto the device: the step donates it)."""
        import jax
        import jax.numpy as jnp

        from funcnn.train import TrainState

        params = jax.tree_util.tree_map(jnp.array, params)
        return TrainState(
            params, self.optimizer.init(params), jnp.zeros((), jnp.int32), jax.random.key(0)
        )

    def chain(self, x, y, state=None) -> Chain:
        """Consecutive steps on the batch ``(x, y)`` from ``state`` (default: the initial)."""
        return Chain(self.step, (self.state if state is None else state,), ((x, y),), n_state=1)

    def compile(self, x, y, state=None) -> tuple[Callable, float]:
        """``step.lower(state, (x, y)).compile()``, timed."""
        return compile_jitted(self.step, self.state if state is None else state, (x, y))

    @staticmethod
    def loss(out) -> Any:
        """The loss (before the update) of a step's output ``(state, metrics)``."""
        return out[1]["loss"]

    @staticmethod
    def params(state) -> Any:
        return state.params


def funcnn_step(
    sizes: Sequence[int],
    *,
    dtype: str = "float32",
    lr: float = ADAM_LR,
    seed: int = 0,
    fresh: bool = True,
) -> FuncnnStep:
    """funcnn's training step from its public API, and an initial state.

    ``funcnn.mlp(sizes, "relu")``, the "softmax_cross_entropy" loss (batch mean) and
    ``optax.adam(lr, eps=1e-8)`` through ``funcnn.train.make_train_step``.

    Args:
        sizes: ``(n_0, ..., n_L)``.
        dtype: of parameters (and so of the optimizer state).
        lr: Adam's learning rate.
        seed: of the initial parameters (``model.init(jax.random.key(seed))``).
        fresh: a newly built optimizer and so a newly jitted step whose compile time is real;
            ``False`` reuses the one built before for the same model and lr (reference
            runs and tests, where recompiling is wasted time).
    """
    import jax

    import funcnn

    model = funcnn.mlp(tuple(int(s) for s in sizes), "relu")
    params = model.init(jax.random.key(seed), dtype=jnp_dtype(dtype))
    step, optimizer = (_build_step if fresh else _cached_step)(model, float(lr))
    fs = FuncnnStep(
        model,
        step,
        optimizer,
        None,
        "funcnn.train.make_train_step(grad_norm=False) (donated state)",
    )
    fs.state = fs.state_from(params)
    return fs


def _build_step(model, lr: float):
    import optax

    from funcnn.train import make_train_step

    optimizer = optax.adam(lr, eps=ADAM_EPS)
    return make_train_step(model, "softmax_cross_entropy", optimizer, grad_norm=False), optimizer


_cached_step = functools.lru_cache(maxsize=None)(_build_step)
