"""Recurrent networks for sequences (the lecture's taxonomy: networks with loops).

* :func:`recurrent`: a sequence of ``input_length`` samples read ``chunk`` samples per step
  (``(input_length / chunk, chunk)``), an Elman RNN or a GRU (bidirectional by default) and a
  dense classifier on the last state(s).
* :func:`mnist1d_gru`: the MNIST-1D paper's GRU: bidirectional, hidden size 6, one sample
  per step, every state of both directions flattened into a dense layer (5,098 parameters
  here; 5,134 in the paper, whose PyTorch cells carry a second bias per gate and apply the
  reset gate after the hidden matrix product).

Both return a :class:`funcnn.blocks.Serial` on examples of shape ``(input_length,)``.
"""

from __future__ import annotations

from funcnn import checks
from funcnn.blocks import GRU, RNN, Bidirectional, Dense, Flatten, Reshape, Serial

CELLS = {"rnn": RNN, "gru": GRU}


def recurrent(
    input_length: int = 40,
    n_classes: int = 10,
    *,
    cell: str = "gru",
    hidden_size: int = 96,
    chunk: int = 2,
    bidirectional: bool = True,
) -> Serial:
    """``Reshape(input_length / chunk, chunk) -> [Bidirectional](cell(chunk, hidden_size))
    -> Dense(n_classes)`` on the last state (of each direction).

    Example:
        >>> import jax, funcnn
        >>> net = funcnn.recurrent(40, 10, cell="gru", hidden_size=8, chunk=4)
        >>> net.shapes
        ((40,), (10, 4), (16,), (10,))
        >>> net.apply(net.init(jax.random.key(0)), jax.numpy.ones((2, 40))).shape
        (2, 10)
    """
    input_length = checks.check_positive_int(input_length, "input_length")
    n_classes = checks.check_positive_int(n_classes, "n_classes")
    checks.check_choice(cell, CELLS, "cell")
    chunk = checks.check_positive_int(chunk, "chunk")
    if input_length % chunk:
        raise ValueError(
            f"chunk ({chunk} samples per step) must divide input_length ({input_length})."
        )
    if not isinstance(bidirectional, bool):
        raise TypeError(f"bidirectional must be True or False; got {bidirectional!r}.")
    body = CELLS[cell](chunk, checks.check_positive_int(hidden_size, "hidden_size"))
    width = hidden_size
    if bidirectional:
        body, width = Bidirectional(body), 2 * hidden_size
    blocks = (Reshape((input_length // chunk, chunk)), body, Dense(width, n_classes))
    return Serial(blocks, (input_length,), cell)


def mnist1d_gru(input_length: int = 40, n_classes: int = 10, hidden_size: int = 6) -> Serial:
    """The MNIST-1D paper's GRU (module docstring): ``Reshape(L, 1) -> Bidirectional(GRU(1,
    6), every state) -> Flatten -> Dense(n_classes)``.

    Example:
        >>> import jax, funcnn
        >>> funcnn.param_count(funcnn.mnist1d_gru().init(jax.random.key(0)))
        5098
    """
    cell = GRU(1, hidden_size, return_sequences=True)
    blocks = (
        Reshape((input_length, 1)),
        Bidirectional(cell),
        Flatten(),
        Dense(input_length * 2 * hidden_size, n_classes),
    )
    return Serial(blocks, (input_length,), "gru_paper")
