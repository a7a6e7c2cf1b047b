"""Convolution, pooling and the CNN: the layer is its circulant / Toeplitz matrix, shapes and
errors, the hand-written backward against jax.grad and finite differences, routing at ties."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcnn
from funcnn import backprop as bp
from funcnn.blocks import AvgPool, Conv, GlobalAvgPool, MaxPool, Reshape, serial
from funcnn.blocks.conv_matrix import conv_matrix, is_circulant, is_toeplitz, param_counts

VARIANTS = [
    (pad, s, d)
    for pad, s, d in itertools.product(["circular", "same", "valid", 1, (2, 0)], [1, 2], [1, 2])
]


@pytest.mark.parametrize("padding, stride, dilation", VARIANTS)
def test_convolution_is_its_matrix_times_the_flattened_input(padding, stride, dilation):
    with jax.enable_x64(True):
        block = Conv(2, 3, 3, stride, padding, dilation)
        params = block.init(jax.random.key(0), jnp.float64)
        params["b"] = jnp.arange(3.0) / 7  # a non-zero bias
        x = jax.random.normal(jax.random.key(1), (4, 11, 2), jnp.float64)
        W, bias = conv_matrix(block, params, 11)
        y = np.asarray(block.apply(params, x)).reshape(4, -1)
        expected = np.asarray(x).reshape(4, -1) @ W.T + bias
        np.testing.assert_allclose(y, expected, rtol=0, atol=1e-14)
        assert W.shape == (np.prod(block.out_shape((11, 2))), 22)


def test_one_channel_circular_convolution_is_circulant_and_zero_padded_is_toeplitz():
    with jax.enable_x64(True):
        params = Conv(1, 1, 5).init(jax.random.key(2), jnp.float64)
        circ, _ = conv_matrix(Conv(1, 1, 5, padding="circular"), params, 40)
        zero, _ = conv_matrix(Conv(1, 1, 5, padding="same"), params, 40)
    assert is_circulant(circ) and is_toeplitz(circ)
    assert is_toeplitz(zero) and not is_circulant(zero)
    # The wrapped corners are exactly what separates them.
    assert np.count_nonzero(circ) == 40 * 5 and np.count_nonzero(zero) == 40 * 5 - 2 * (1 + 2)
    np.testing.assert_array_equal(circ[0, :3], np.asarray(params["w"])[2:, 0, 0])


def test_2d_convolution_matrix():
    with jax.enable_x64(True):
        block = Conv(2, 3, (3, 2), (2, 1), "circular", (1, 2))
        params = block.init(jax.random.key(3), jnp.float64)
        x = jax.random.normal(jax.random.key(4), (2, 5, 6, 2), jnp.float64)
        W, bias = conv_matrix(block, params, (5, 6))
        y = np.asarray(block.apply(params, x)).reshape(2, -1)
        np.testing.assert_allclose(y, np.asarray(x).reshape(2, -1) @ W.T + bias, atol=1e-14)


def test_weight_sharing_parameter_counts():
    counts = param_counts(Conv(1, 32, 5, padding="circular"), 40)
    assert counts == {"conv": 5 * 32 + 32, "dense": (40 * 32) * 40 + 40 * 32}
    counts = param_counts(Conv(8, 16, 3, 2, "valid"), 20)  # L_out = 9
    assert counts == {"conv": 3 * 8 * 16 + 16, "dense": (9 * 16) * (20 * 8) + 9 * 16}


@pytest.mark.parametrize("padding, stride, dilation", VARIANTS)
def test_out_shape_matches_apply(padding, stride, dilation):
    block = Conv(2, 3, 3, stride, padding, dilation)
    x = jnp.ones((2, 9, 2))
    assert block.apply(block.init(jax.random.key(0)), x).shape[1:] == block.out_shape((9, 2))


def test_same_and_circular_keep_the_length_and_stride_divides_it():
    for padding in ("same", "circular"):
        assert Conv(1, 1, 5, 1, padding).out_shape((40, 1)) == (40, 1)
        assert Conv(1, 1, 5, 2, padding).out_shape((40, 1)) == (20, 1)
        assert Conv(1, 1, 5, 3, padding).out_shape((40, 1)) == (14, 1)  # ceil(40 / 3)
    assert Conv(1, 1, 5, 1, "valid", 2).out_shape((40, 1)) == (32, 1)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Conv(1, 1, 3, padding="reflect"), "unknown padding 'reflect'"),
        (lambda: Conv(1, 1, 3, padding=-1), "non-negative"),
        (lambda: Conv(0, 1, 3), "in_channels must be a positive integer"),
        (lambda: Conv(1, 1, (3, 3, 3)), "kernel_size must be an int"),
        (lambda: Conv(1, 1, 3, stride=(1, 2)), "stride must give 1 value"),
        (lambda: Conv(1, 1, 9, padding="valid").out_shape((5, 1)), "needs spatial size >= 9"),
        (lambda: Conv(1, 1, 13, padding="circular").out_shape((5, 1)), "wraps more than once"),
        (lambda: Conv(2, 1, 3).out_shape((5, 1)), r"takes examples of shape \(\*spatial\[1\], 2\)"),
        (lambda: serial(Reshape((8, 1)), Conv(2, 1, 3), input_shape=(8,)), r"blocks\[1\] \(Conv\)"),
        (lambda: MaxPool(4).out_shape((3, 1)), "larger than the input"),
    ],
)
def test_bad_configuration_and_shapes_are_named(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_max_pool_routes_a_tie_to_the_first_maximum_like_jax_grad():
    x = jnp.array([[[1.0], [1.0], [0.5], [2.0], [2.0], [2.0]]])
    for block in (MaxPool(2), MaxPool(3, 1)):
        _, cache = bp.forward(block, (), x)
        dout = jnp.arange(1.0, 1.0 + np.prod(block.out_shape((6, 1)))).reshape(1, -1, 1)
        _, dx = bp.backward(block, (), cache, dout)
        ref = jax.grad(lambda x, b=block, d=dout: jnp.sum(b.apply((), x) * d))(x)
        np.testing.assert_array_equal(dx, ref)
    # window 3, stride 1: windows 2, 3 and 4 all take their first maximum, position 3
    assert list(dx[0, :, 0]) == [1.0, 0.0, 0.0, 2.0 + 3.0 + 4.0, 0.0, 0.0]


def test_average_poolings_spread_delta_evenly():
    x = jnp.zeros((1, 6, 1))
    _, cache = bp.forward(AvgPool(2), (), x)
    _, dx = bp.backward(AvgPool(2), (), cache, jnp.array([[[2.0], [4.0], [6.0]]]))
    np.testing.assert_array_equal(dx[0, :, 0], [1, 1, 2, 2, 3, 3])
    _, cache = bp.forward(GlobalAvgPool(), (), x)
    _, dx = bp.backward(GlobalAvgPool(), (), cache, jnp.array([[3.0]]))
    np.testing.assert_array_equal(dx[0, :, 0], [0.5] * 6)


def test_circular_cnn_is_invariant_to_circular_shifts_of_its_input():
    with jax.enable_x64(True):
        net = funcnn.cnn(40, 10, channels=(8, 8, 16), strides=(1, 1, 1))
        params = net.init(jax.random.key(0), jnp.float64)
        x = jax.random.normal(jax.random.key(1), (3, 40), jnp.float64)
        out = net.apply(params, x)
        for k in (1, 7, 39):
            np.testing.assert_allclose(net.apply(params, jnp.roll(x, k, axis=1)), out, atol=1e-12)
        # Zero padding breaks the symmetry at the borders.
        zero = funcnn.cnn(40, 10, channels=(8, 8, 16), strides=(1, 1, 1), padding="same")
        assert not np.allclose(zero.apply(params, jnp.roll(x, 7, axis=1)), zero.apply(params, x))


def test_the_papers_convbase_has_its_published_size():
    net = funcnn.mnist1d_convbase()
    assert funcnn.param_count(net.init(jax.random.key(0))) == 5210
    assert [s for s in net.shapes[2:7:2]] == [(19, 25), (10, 25), (5, 25)]
