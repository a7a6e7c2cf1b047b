"""Blocks and their serial composition: every model of funcnn is built from these.

The protocol (the idea of stax's ``(init_fun, apply_fun)`` pairs, as frozen configurations):

* a **block** is a frozen, hashable dataclass holding its static configuration (sizes,
  activation name, rate, ...), never arrays;
* ``block.init(key, dtype=jnp.float32) -> params``: a pytree of arrays (``()`` for a block
  without parameters);
* ``block.apply(params, x, *, key=None, train=False) -> y`` on a batch ``x: (batch, *shape)``;
* ``block.out_shape(shape) -> shape`` maps the shape of one example through the block,
  raising ``ValueError`` when the block cannot take it;
* class attributes ``has_params`` (whether ``init`` returns arrays) and, as properties,
  ``consumes_key`` (the block draws random numbers in training, so the composition reserves a
  key for it) and ``stochastic`` (``apply(train=True)`` actually needs a key, e.g. dropout
  with rate > 0);
* its hand-written pair lives in :mod:`funcnn.backprop`: ``forward -> (out, cache)`` and
  ``backward(cache, dout) -> (param_grads, dx)``.

:class:`Serial` composes blocks into a model (itself a block). See :mod:`funcnn.blocks.serial`
for how it lays out parameters and keys, and the README's architecture section for a worked
example of adding a block.
"""

from funcnn.blocks.conv import Conv
from funcnn.blocks.dense import Act, Dense, Dropout
from funcnn.blocks.pool import AvgPool, GlobalAvgPool, MaxPool
from funcnn.blocks.recurrent import GRU, RNN, Bidirectional
from funcnn.blocks.serial import Serial, serial
from funcnn.blocks.structure import Flatten, Reshape, Residual

__all__ = [
    "Act",
    "AvgPool",
    "Bidirectional",
    "Conv",
    "Dense",
    "Dropout",
    "Flatten",
    "GRU",
    "GlobalAvgPool",
    "MaxPool",
    "RNN",
    "Reshape",
    "Residual",
    "Serial",
    "serial",
]
