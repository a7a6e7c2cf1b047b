"""``Serial``: blocks composed one after the other, ``f = f_K o ... o f_2 o f_1``.

* **Parameters** are a list with one entry per block that has parameters, in order; blocks
  without parameters (activations, dropout, pooling, ...) take no slot. A dense network is
  therefore ``[{"w", "b"}, ...]``, one dict per layer, as in the notes.
* **Keys**: in training, the k-th block that draws random numbers (``consumes_key``) gets
  ``jax.random.fold_in(key, k)``; deterministic blocks take no key, so inserting one does not
  change any other block's random draws.
* **Shapes**: ``input_shape`` is the shape of one example (``(40,)`` for a dense network on
  MNIST-1D); every block checks the shape the block before it produces when the composition
  is built, so a wrong size is reported at construction, naming the block.

A ``Serial`` is itself a block (``has_params`` when any of its blocks has), so compositions
nest. Its hand-written forward and backward (the delta recursion over blocks) live in
:mod:`funcnn.backprop.serial`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp

from funcnn import checks

Array = jnp.ndarray


@dataclasses.dataclass(frozen=True)
class Serial:
    """Blocks applied in order; see the module docstring.

    Attributes:
        blocks: the blocks, first applied first.
        input_shape: the shape of one example; default: the first block's ``input_shape``
            (a ``Dense(n_in, ...)`` opens a model on ``(n_in,)``).
        kind: a name for reports (``"mlp"``, ``"cnn"``, ...).
    """

    blocks: tuple
    input_shape: tuple | None = None
    kind: str = "serial"

    def __post_init__(self):
        blocks = tuple(self.blocks)
        if not blocks:
            raise ValueError("a Serial composition needs at least one block; got none.")
        for i, b in enumerate(blocks):
            if not all(hasattr(b, m) for m in ("init", "apply", "out_shape")):
                raise TypeError(
                    f"blocks[{i}] must be a block (with init, apply and out_shape); "
                    f"got {type(b).__name__}."
                )
        shape = self.input_shape
        if shape is None:
            shape = getattr(blocks[0], "input_shape", None)
            if shape is None:
                raise ValueError(
                    f"give input_shape= (the shape of one example): the first block "
                    f"{type(blocks[0]).__name__} does not fix it."
                )
        shape = tuple(checks.check_positive_int(s, "input_shape[i]") for s in shape)
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "input_shape", shape)
        self.shapes  # noqa: B018  (validates every block against its input now)

    # -- structure ---------------------------------------------------------------------------

    @functools.cached_property
    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The example shape entering each block, then the output's: ``K + 1`` shapes."""
        out = [self.input_shape]
        for i, b in enumerate(self.blocks):
            try:
                out.append(tuple(b.out_shape(out[-1])))
            except ValueError as e:
                raise ValueError(f"blocks[{i}] ({type(b).__name__}): {e}") from None
        return tuple(out)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The shape of one output example."""
        return self.shapes[-1]

    @property
    def has_params(self) -> bool:
        return any(b.has_params for b in self.blocks)

    @property
    def consumes_key(self) -> bool:
        return any(b.consumes_key for b in self.blocks)

    @property
    def stochastic(self) -> bool:
        """Whether ``apply(..., train=True)`` draws random numbers (and so needs ``key=``)."""
        return any(b.stochastic for b in self.blocks)

    @property
    def param_blocks(self) -> tuple:
        """The blocks that own a slot of the parameter list, in order."""
        return tuple(b for b in self.blocks if b.has_params)

    def out_shape(self, shape) -> tuple[int, ...]:
        """The block protocol's shape map: this composition applied to examples of ``shape``."""
        if tuple(shape) == self.input_shape:
            return self.shapes[-1]
        return dataclasses.replace(self, input_shape=tuple(shape)).shapes[-1]

    def to_config(self) -> dict:
        """A JSON-able description: the kind, the input shape and every block's fields."""
        return {
            "kind": self.kind,
            "input_shape": list(self.input_shape),
            "blocks": [block_config(b) for b in self.blocks],
        }

    # -- init / apply --------------------------------------------------------------------------

    def init(self, key, dtype=jnp.float32) -> list:
        """One entry per parameterized block, each from its own key of ``split(key)``."""
        if not isinstance(key, jax.Array):
            raise TypeError(f"key must be a jax.random.key(seed); got {type(key).__name__}.")
        blocks = self.param_blocks
        keys = jax.random.split(key, len(blocks))
        return [b.init(k, dtype) for b, k in zip(blocks, keys)]

    def check_params(self, params, name: str = "params") -> None:
        """Raise ``ValueError`` unless ``params`` has this composition's structure and shapes."""
        blocks = self.param_blocks
        if not isinstance(params, (list, tuple)) or len(params) != len(blocks):
            got = len(params) if isinstance(params, (list, tuple)) else type(params).__name__
            raise ValueError(
                f"{name} must be a list of {len(blocks)} entries, one per block with "
                f"parameters ({', '.join(type(b).__name__ for b in blocks)}); got {got}."
            )
        for j, (b, p) in enumerate(zip(blocks, params)):
            b.check_params(p, f"{name}[{j}]")

    def check_input(self, x: Array, name: str = "x") -> None:
        """``x`` must be a non-empty floating batch of examples of shape :attr:`input_shape`."""
        layout = f"(batch, {', '.join(map(str, self.input_shape))})"
        checks.check_rank(x, 1 + len(self.input_shape), name, f"{layout}; add a batch axis")
        checks.check_batch(x, name)
        checks.check_floating(x, name)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"{name} must have shape {layout} for this {self.kind}; got {x.shape}."
            )

    def walk(self, params, key=None) -> Iterator[tuple[Any, Any, Any]]:
        """``(block, its params, its key)`` for every block in order: params ``()`` for a
        block without parameters, key ``None`` unless ``key`` is given and the block
        consumes one (the k-th such block gets ``fold_in(key, k)``)."""
        slots = iter(params)
        k = 0
        for b in self.blocks:
            p = next(slots) if b.has_params else ()
            block_key = None
            if b.consumes_key:
                block_key = None if key is None else jax.random.fold_in(key, k)
                k += 1
            yield b, p, block_key

    def run(self, step: Callable, params, x: Array, key=None) -> tuple[Array, tuple]:
        """Thread ``x`` through the blocks with ``step(block, params, x, key) -> (y, aux)``;
        returns the output and the per-block ``aux`` (the one forward loop of funcnn: ``apply``
        and the hand-written forward both use it)."""
        aux = []
        for b, p, k in self.walk(params, key):
            x, a = step(b, p, x, k)
            aux.append(a)
        return x, tuple(aux)

    def apply(self, params, x: Array, *, key=None, train: bool = False) -> Array:
        """``f_K(... f_1(x))``; dropout (and any random block) only when ``train`` is True,
        which then needs ``key``."""
        self.check_params(params)
        self.check_input(x)
        if train and self.stochastic and key is None:
            random = ", ".join(repr(b) for b in self.blocks if b.stochastic)
            raise ValueError(
                f"this {self.kind} draws random numbers in training ({random}): "
                "apply(..., train=True) needs key=jax.random.key(...)."
            )

        def step(b, p, z, k):
            return b.apply(p, z, key=k, train=train), None

        out, _ = self.run(step, params, x, key if train else None)
        return out

    def __call__(self, params, x: Array, **kwargs) -> Array:
        return self.apply(params, x, **kwargs)


def block_config(block) -> dict:
    """A JSON-able description of one block: its type and its fields."""
    if hasattr(block, "to_config"):
        return block.to_config()
    fields = {
        f.name: (list(v) if isinstance(v := getattr(block, f.name), tuple) else v)
        for f in dataclasses.fields(block)
    }
    return {"type": type(block).__name__, **fields}


def serial(*blocks, input_shape=None, kind: str = "serial") -> Serial:
    """Compose ``blocks`` (applied first to last) into a model.

    Example:
        >>> import jax, funcnn
        >>> from funcnn.blocks import Act, Dense, Dropout, serial
        >>> net = serial(Dense(4, 8), Act("tanh"), Dropout(0.1), Dense(8, 3))
        >>> params = net.init(jax.random.key(0))
        >>> [sorted(p) for p in params]
        [['b', 'w'], ['b', 'w']]
        >>> net.apply(params, jax.numpy.ones((2, 4))).shape
        (2, 3)
    """
    return Serial(tuple(blocks), input_shape, kind)
