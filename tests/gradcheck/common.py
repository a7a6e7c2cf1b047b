"""What the gradcheck and command tests share: a small network, its right gradient, the classic
ways of getting it wrong, and the headers every printed table has."""

import jax

import funcnn as F
from funcnn import backprop as bp
from funcnn import gradcheck as gc

NET = F.mlp([3, 4, 4, 2], "tanh")  # a square hidden weight, so a transpose keeps its shape
VG = bp.value_and_grad(NET, "mse")


def loss(params, x, y):
    return F.mse(NET.apply(params, x), y)


def right(params, x, y):
    return VG(params, x, y)[1]


def sign_flip(params, x, y):
    g = right(params, x, y)
    g[1]["b"] = -g[1]["b"]
    return g


def transposed(params, x, y):
    g = right(params, x, y)
    g[1]["w"] = g[1]["w"].T
    return g


def missing_one_over_n(params, x, y):
    """The batch gradient summed instead of averaged (the 1/n of the digest's eq. 7 dropped)."""
    return jax.tree_util.tree_map(lambda t: t * x.shape[0], right(params, x, y))


def transposed_nonsquare(params, x, y):
    g = right(params, x, y)
    g[0]["w"] = g[0]["w"].T
    return g


BROKEN = [sign_flip, transposed, missing_one_over_n, transposed_nonsquare]


def net_inputs(key, dtype):
    """Non-trivial params and a batch ``(x, y)`` of 5 examples for :data:`NET`."""
    draws = gc.Draws(key, dtype)
    params = gc.nontrivial_params(NET, draws)
    return params, (draws.normal((5, 3)), draws.normal((5, 2)))


#: The columns of a printed report (the command's table adds model, activation and loss).
TABLE_HEADERS = (
    "leaf",
    "shape",
    "max abs err",
    "max rel err (autodiff)",
    "max rel err (fd)",
    "pass",
)
