"""The blocks of a dense network: ``Dense``, ``Act`` (an activation) and ``Dropout``.

Together they are the notes' layer: ``a_j = z_{j-1} @ w_j + b_j`` (Dense),
``z_j = sigma_j(a_j)`` (Act), ``z_j <- z_j o m_j`` in training (Dropout). Layout as everywhere
in funcnn: rows are examples, ``w: (n_in, n_out)`` is the transpose of the notes' ``W_j``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from funcnn import checks
from funcnn.activations import ACTIVATIONS, get_activation
from funcnn.initializers import INITIALIZERS
from funcnn.layers import dense_init, dropout_mask

Array = jnp.ndarray


def check_no_params(params, block: str) -> None:
    """Blocks without parameters take ``()`` (what their ``init`` returns)."""
    if params not in ((), None, []):
        raise ValueError(f"{block} has no parameters: pass params=(); got {params!r:.60}.")


@dataclasses.dataclass(frozen=True)
class Dense:
    """``a = x @ w + b`` on the last axis: ``(..., n_in) -> (..., n_out)``.

    Params ``{"w": (n_in, n_out), "b": (n_out,)}``; ``w`` from ``initializer`` (with
    ``init_std`` as the std of "normal" or the scale of "uniform"), ``b`` zero.
    """

    n_in: int
    n_out: int
    initializer: str = "xavier_normal"
    init_std: float | None = None

    has_params: ClassVar[bool] = True
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def __post_init__(self):
        object.__setattr__(self, "n_in", checks.check_positive_int(self.n_in, "n_in"))
        object.__setattr__(self, "n_out", checks.check_positive_int(self.n_out, "n_out"))
        checks.check_choice(self.initializer, INITIALIZERS, "initializer")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one example a dense layer takes when it opens a model: ``(n_in,)``."""
        return (self.n_in,)

    def out_shape(self, shape) -> tuple[int, ...]:
        shape = tuple(shape)
        if not shape or shape[-1] != self.n_in:
            raise ValueError(
                f"Dense({self.n_in}, {self.n_out}) takes examples whose last axis has "
                f"{self.n_in} features; got shape {shape} from the block before it."
            )
        return (*shape[:-1], self.n_out)

    def init(self, key, dtype=jnp.float32) -> dict[str, Array]:
        """``{"w": (n_in, n_out), "b": (n_out,)}`` from ``key`` (split into w and b keys)."""
        options = {}
        if self.init_std is not None:
            name = "std" if self.initializer == "normal" else "scale"
            options = {name: self.init_std}
        return dense_init(
            key, self.n_in, self.n_out, w_init=self.initializer, dtype=dtype, **options
        )

    def check_params(self, params, name: str = "params") -> None:
        if not isinstance(params, dict) or set(params) != {"w", "b"}:
            raise ValueError(f'{name} must be a dict with keys "w" and "b"; got {params!r:.80}.')
        for leaf, shape in (("w", (self.n_in, self.n_out)), ("b", (self.n_out,))):
            if tuple(params[leaf].shape) != shape:
                raise ValueError(
                    f"{name}['{leaf}'] must have shape {shape}; got {params[leaf].shape}."
                )

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        """``x @ w + b``: ``(batch, ..., n_in) -> (batch, ..., n_out)``."""
        b = params["b"].reshape((1,) * (x.ndim - 1) + (-1,))  # (1, ..., 1, n_out)
        return x @ params["w"] + b


@dataclasses.dataclass(frozen=True)
class Act:
    """The elementwise activation ``z = sigma(a)`` named ``name`` (any shape)."""

    name: str

    has_params: ClassVar[bool] = False
    consumes_key: ClassVar[bool] = False
    stochastic: ClassVar[bool] = False

    def __post_init__(self):
        checks.check_choice(self.name, ACTIVATIONS, "activation")

    def out_shape(self, shape) -> tuple[int, ...]:
        return tuple(shape)

    def init(self, key, dtype=jnp.float32) -> tuple:
        return ()

    def check_params(self, params, name: str = "params") -> None:
        check_no_params(params, f"Act({self.name!r})")

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        return get_activation(self.name).f(x)


@dataclasses.dataclass(frozen=True)
class Dropout:
    """Inverted dropout with drop probability ``rate`` (the digest, section 5).

    In training, ``x * m`` with ``m = 0`` with probability ``rate`` and ``1 / (1 - rate)``
    otherwise, drawn from the key the composition hands this block; the identity in
    evaluation. It reserves a key even at rate 0, so the other blocks' masks do not depend on
    whether this one drops anything.
    """

    rate: float

    has_params: ClassVar[bool] = False
    consumes_key: ClassVar[bool] = True

    def __post_init__(self):
        object.__setattr__(self, "rate", checks.check_rate(self.rate, "rate"))

    @property
    def stochastic(self) -> bool:
        return self.rate > 0

    def out_shape(self, shape) -> tuple[int, ...]:
        return tuple(shape)

    def init(self, key, dtype=jnp.float32) -> tuple:
        return ()

    def check_params(self, params, name: str = "params") -> None:
        check_no_params(params, f"Dropout({self.rate})")

    def mask(self, key, shape, dtype=jnp.float32) -> Array | None:
        """The multiplier of one training pass (``None`` at rate 0): what ``apply`` uses and
        what ``funcnn.backprop`` caches."""
        if not self.stochastic:
            return None
        if not isinstance(key, jax.Array):
            raise TypeError(f"key must be a jax.random.key(seed); got {type(key).__name__}.")
        return dropout_mask(key, self.rate, shape, dtype)

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        if not (train and self.stochastic):
            return x
        if key is None:
            raise ValueError(f"Dropout({self.rate}) with train=True needs key=.")
        return x * self.mask(key, x.shape, x.dtype)
