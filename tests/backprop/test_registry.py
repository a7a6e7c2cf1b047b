"""funcnn.backprop.registry: which hand-written pair a block gets, the error when it has none,
inheritance, and the static shape checks that catch a wrong hand-written backward.

Every block class registered here is a throwaway defined in this module, so the library's own
registrations are never replaced."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn as F
from funcnn import backprop as bp
from funcnn.blocks import Act, Dense, Dropout, Serial, serial
from tests.helpers import close, draws, once


@dataclasses.dataclass(frozen=True)
class Gain:
    """y = x * g, one learnable gain per feature (a block for these tests only)."""

    n: int
    has_params = True
    consumes_key = False
    stochastic = False

    def init(self, key, dtype=jnp.float32):
        return {"g": jnp.linspace(0.5, 1.5, self.n, dtype=dtype)}

    def check_params(self, params, name="params"):
        assert params["g"].shape == (self.n,), name

    def out_shape(self, shape):
        return tuple(shape)

    def apply(self, params, x, *, key=None, train=False):
        return x * params["g"][None, :]


def gain_forward(block, params, x, key):
    return x * params["g"][None, :], x


def gain_backward(block, params, x, dout):
    return {"g": jnp.sum(dout * x, axis=0)}, dout * params["g"][None, :]


def gain_type(name, forward=gain_forward, backward=gain_backward):
    """A fresh subclass of Gain with the given pair registered."""
    cls = type(name, (Gain,), {})
    bp.register(cls, forward, backward)
    return cls


class Unregistered(Gain):
    """A block nobody wrote a backward for."""


def test_an_unregistered_block_is_a_type_error_naming_it():
    message = (
        r"no hand-written backprop is registered for Unregistered; register one with "
        r"funcnn.backprop.register\(Unregistered, forward, backward\). Registered: .*Dense"
    )
    with pytest.raises(TypeError, match=message):
        bp.pair(Unregistered(3))
    with pytest.raises(TypeError, match=message):
        bp.forward(Unregistered(3), {"g": jnp.ones(3)}, jnp.ones((2, 3)))
    # Inside a composition: when the objective is built, not at its first call.
    net = serial(Dense(3, 3), Act("tanh"), serial(Unregistered(3), input_shape=(3,)))
    for build in (bp.value_and_grad, bp.bridge):
        with pytest.raises(TypeError, match=message):
            build(net, "mse")
    with pytest.raises(TypeError, match="block_type must be a class; got Dense"):
        bp.register(Dense(3, 2), gain_forward, gain_backward)


def test_the_library_registers_every_block_and_model():
    assert {Dense, Act, Dropout, Serial, F.MLP} <= set(bp.registered())
    assert bp.pair(F.mlp([3, 4, 2])).forward is not bp.pair(F.mlp([3, 4, 2]).serial).forward


def test_a_subclass_inherits_its_parent_s_pair_until_it_registers_its_own():
    class WideDense(Dense):
        pass

    assert bp.pair(WideDense(3, 4)) is bp.pair(Dense(3, 4))
    Own = gain_type("Own")

    class Child(Own):
        pass

    assert bp.pair(Child(3)) is bp.pair(Own(3)) and bp.pair(Own(3)).forward is gain_forward
    with pytest.raises(TypeError, match="registered for Gain"):
        bp.pair(Gain(3))  # the parent is not affected
    # The inherited pair computes the parent's gradients.
    with jax.enable_x64(True):
        d = draws(31)
        x, y = d.normal((4, 3)), d.normal((4, 2))
        nets = [serial(cls(3, 4), Act("tanh"), Dense(4, 2)) for cls in (Dense, WideDense)]
        params = nets[0].init(jax.random.key(31), jnp.float64)
        vg = [bp.value_and_grad(net, "mse") for net in nets]
        parent, child = once(lambda p, x, y: [f(p, x, y) for f in vg], params, x, y)
        chex.assert_trees_all_equal(child, parent)


def _check(block, x, dout):
    """The registered pair through funcnn.backprop's dispatch, at trace time only."""

    def run(x, dout):
        params = block.init(None)
        out, cache = bp.forward(block, params, x)
        return bp.backward(block, params, cache, dout)

    return jax.eval_shape(run, x, dout)


def test_static_checks_catch_a_wrong_hand_written_pair():
    x, dout = jnp.ones((4, 3)), jnp.ones((4, 3))
    _check(gain_type("Right")(3), x, dout)  # the right pair passes the same checks
    wrong_out = gain_type("WrongOut", forward=lambda b, p, x, k: (x[:, :2], x))
    with pytest.raises(AssertionError, match=r"input 0 has shape \(4, 2\) but expected \(4, 3\)"):
        _check(wrong_out(3), x, dout)
    wrong_grads = gain_type(
        "WrongGrads", backward=lambda b, p, x, dout: ({"g": jnp.sum(dout * x)}, dout)
    )
    with pytest.raises(AssertionError, match="Trees 0 and 1 differ in leaves"):
        _check(wrong_grads(3), x, dout)
    wrong_batch = gain_type("WrongBatch", backward=lambda b, p, x, dout: (p, dout[:1]))
    with pytest.raises(AssertionError, match=r"different shape prefixes: \[\(1,\), \(4,\)\]"):
        _check(wrong_batch(3), x, dout)
    # A dx of the right batch but the wrong example shape: the recursion's own check.
    wrong_dx = gain_type("WrongDx", backward=lambda b, p, x, dout: (p, dout[:, :2]))
    net = serial(Dense(2, 3), wrong_dx(3))
    params = jax.eval_shape(net.init, jax.random.key(0))

    def grads(params, x, dout):
        return bp.serial_backward(net, params, bp.serial_forward(net, params, x)[1], dout)

    with pytest.raises(AssertionError, match=r"input 0 has shape \(4, 2\) but expected \(4, 3\)"):
        jax.eval_shape(grads, params, jnp.ones((4, 2)), dout)


def test_a_registered_block_composes_with_the_library_s():
    Right = gain_type("ComposedGain")
    net = serial(Dense(3, 4), Right(4), Act("tanh"), Dense(4, 2))
    with jax.enable_x64(True):
        d = draws(32)
        params = [
            {"w": d.normal((3, 4)), "b": d.normal((4,))},
            {"g": d.normal((4,))},
            {"w": d.normal((4, 2)), "b": d.normal((2,))},
        ]
        x, y = d.normal((5, 3)), d.normal((5, 2))
        loss = lambda p, x, y: F.mse(net.apply(p, x), y)

        def both(p, x, y):
            return bp.value_and_grad(net, "mse")(p, x, y), jax.value_and_grad(loss)(p, x, y)

        ours, ref = once(both, params, x, y)
        close(ours, ref)
        assert np.all(np.abs(np.asarray(ours[1][1]["g"])) > 0)
