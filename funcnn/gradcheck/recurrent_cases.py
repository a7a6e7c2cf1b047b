"""Gradient-check cases of the recurrent blocks (``funcnn gradcheck --model rnn``): the Elman
and GRU cells returning their last state or every state, with a learned initial state, with
truncated BPTT, and bidirectional.

Truncated BPTT is, by design, not the gradient of the loss: the outputs are those of the full
recurrence while the gradient stops every ``k`` steps. Its rows compare the hand-written
reverse scan with ``jax.grad`` of the same computation (the forward with
``lax.stop_gradient`` on the cut states) and skip the finite differences, which measure the
full gradient.
"""

from __future__ import annotations

from funcnn.blocks import GRU, RNN, Bidirectional, Dense, Flatten, Reshape, serial
from funcnn.gradcheck.case import Case

STEPS, FEATURES, HIDDEN = 7, 2, 4
SCE = "softmax_cross_entropy"
TRUNCATED_NOTE = "truncated BPTT (k=3): vs jax.grad of the cut computation; no finite differences"


def recurrent_net(cell):
    """``(STEPS * FEATURES,)`` sequences reshaped to ``(STEPS, FEATURES)``, the cell, a dense
    classifier on its last state or on all its states flattened."""
    width = cell.out_shape((STEPS, FEATURES))
    head = [Flatten(), Dense(width[0] * width[1], 3)] if len(width) == 2 else [Dense(width[0], 3)]
    return serial(Reshape((STEPS, FEATURES)), cell, *head, input_shape=(STEPS * FEATURES,),
                  kind="rnn")  # fmt: skip


def recurrent_cases(model_case) -> tuple[Case, ...]:
    """The rows; ``model_case`` is :func:`funcnn.gradcheck.cases.model_case`."""
    rows = []
    for cell in (RNN, GRU):
        name = cell.__name__.lower()
        rows += [
            model_case("rnn", name, "tanh", SCE, recurrent_net(cell(FEATURES, HIDDEN))),
            model_case("rnn", f"{name}[all states, learned h0]", "tanh", "mse",
                       recurrent_net(cell(FEATURES, HIDDEN, True, True))),
            model_case("rnn", f"{name}[truncate=3]", "tanh", SCE,
                       recurrent_net(cell(FEATURES, HIDDEN, True, truncate=3)),
                       TRUNCATED_NOTE, fd=False),
        ]  # fmt: skip
    rows.append(
        model_case(
            "rnn", "bidirectional rnn", "tanh", SCE, recurrent_net(Bidirectional(RNN(FEATURES, 3)))
        )
    )
    rows.append(
        model_case(
            "rnn",
            "bidirectional gru[all states]",
            "tanh",
            "mse",
            recurrent_net(Bidirectional(GRU(FEATURES, 3, True, True))),
        )
    )
    return tuple(rows)  # fmt: skip
