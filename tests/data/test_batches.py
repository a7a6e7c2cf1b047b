"""funcnn.data.batches: one permutation behind every epoch; iterate_batches and
epoch_batches give its batches, the same for the same key."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from funcnn import data as D
from tests.data.helpers import KEY

N = 23
XS = np.arange(N, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)  # row i is all i
YS = np.arange(N, dtype=np.int32)

# one compiled epoch_batches per static configuration, shared by the tests
epoch_batches_jit = jax.jit(D.epoch_batches, static_argnames=("batch_size", "drop_last"))


def reference_permutation(key, n):
    """The documented algorithm in numpy: each round orders the elements by the high bits of
    ``jax.random.bits(fold_in(key, round))``, ties by their current position."""
    index_bits = max(1, math.ceil(math.log2(n)))
    high = ~np.uint32((1 << index_bits) - 1)
    perm = np.arange(n)
    for r in range(D.permutation_rounds(n)):
        bits = np.asarray(jax.random.bits(jax.random.fold_in(key, r), (n,), jnp.uint32))
        perm = perm[np.lexsort((np.arange(n), bits & high))]
    return perm


@pytest.mark.parametrize("n", [1, 2, 23, 1000, 5000])
def test_permutation_follows_its_algorithm(n):
    for seed in (0, 1):
        perm = D.permutation(jax.random.key(seed), n)
        assert perm.dtype == jnp.int32 and perm.shape == (n,)
        np.testing.assert_array_equal(
            np.asarray(perm), reference_permutation(jax.random.key(seed), n)
        )
    assert n < 3 or not np.array_equal(D.permutation(KEY, n), D.permutation(jax.random.key(1), n))


def test_permutation_rounds():
    # smallest r with n (n - 1) / 2 * 2^(-r (32 - ceil(log2 n))) < 1e-3; for n = 2^24:
    # 1.4e14 * 2^(-8 r) < 1e-3 needs r = 8
    assert [D.permutation_rounds(n) for n in (1, 10, 1000, 60000, 2**24)] == [1, 1, 2, 3, 8]
    with pytest.raises(ValueError, match=r"permutation supports n <= 2\*\*24"):
        D.permutation_rounds(2**24 + 1)


def test_permutation_under_vmap_and_jit_is_the_same():
    keys = jax.random.split(KEY, 5)
    many = jax.jit(jax.vmap(lambda k: D.permutation(k, 100)))(keys)
    for k, perm in zip(keys, many, strict=True):
        np.testing.assert_array_equal(np.asarray(perm), np.asarray(D.permutation(k, 100)))


@pytest.mark.parametrize("batch_size", [1, 5, N])
def test_iterate_batches_follow_the_permutation(batch_size):
    batches = list(D.iterate_batches(KEY, XS, YS, batch_size, drop_last=False))
    assert len(batches) == -(-N // batch_size)
    perm = np.asarray(D.permutation(KEY, N))
    for i, (xb, yb) in enumerate(batches):
        np.testing.assert_array_equal(yb, perm[i * batch_size : (i + 1) * batch_size])
        np.testing.assert_array_equal(xb[:, 0], yb)  # x and y stay paired
    assert not np.array_equal(perm, YS)  # shuffled


def test_iterate_batches_drop_last_and_reshuffle():
    kept = list(D.iterate_batches(KEY, XS, YS, 5, drop_last=True))
    assert [len(yb) for _, yb in kept] == [5, 5, 5, 5]
    seen = np.concatenate([yb for _, yb in kept])
    np.testing.assert_array_equal(seen, np.asarray(D.permutation(KEY, N))[:20])
    other = np.concatenate([yb for _, yb in D.iterate_batches(jax.random.key(1), XS, YS, 5)])
    assert not np.array_equal(other, seen)
    # jax inputs give jax batches
    xb, yb = next(D.iterate_batches(KEY, jnp.asarray(XS), jnp.asarray(YS), 5))
    assert isinstance(xb, jax.Array)
    np.testing.assert_array_equal(np.asarray(yb), seen[:5])


def test_epoch_batches_drop_last():
    xb, yb = epoch_batches_jit(KEY, XS, YS, batch_size=5, drop_last=True)
    assert xb.shape == (4, 5, 3) and yb.shape == (4, 5) and yb.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(xb[..., 0]), np.asarray(yb))
    perm = np.asarray(D.permutation(KEY, N))
    np.testing.assert_array_equal(np.asarray(yb), perm[:20].reshape(4, 5))
    ref = [yb_i for _, yb_i in D.iterate_batches(KEY, XS, YS, 5)]
    np.testing.assert_array_equal(np.asarray(yb), np.stack(ref))
    eager = D.epoch_batches(KEY, XS, YS, 5)
    np.testing.assert_array_equal(np.asarray(eager[1]), np.asarray(yb))
    # batch size 1 and full batch
    np.testing.assert_array_equal(np.asarray(D.epoch_batches(KEY, XS, YS, 1)[1])[:, 0], perm)
    assert D.epoch_batches(KEY, XS, YS[:, None], N)[1].shape == (1, N, 1)


def test_epoch_batches_keep_last_pads_with_mask():
    xb, yb, mask = epoch_batches_jit(KEY, XS, YS, batch_size=5, drop_last=False)
    assert xb.shape == (5, 5, 3) and mask.shape == (5, 5) and mask.dtype == jnp.bool_
    mask, yb = np.asarray(mask), np.asarray(yb)
    assert mask.sum() == N and mask[:4].all() and mask[4].tolist() == [1, 1, 1, 0, 0]
    perm = np.asarray(D.permutation(KEY, N))
    # the real entries are the permutation; the padding repeats its first examples
    np.testing.assert_array_equal(yb.reshape(-1), np.concatenate([perm, perm[:2]]))
    last = [b for _, b in D.iterate_batches(KEY, XS, YS, 5, drop_last=False)][-1]
    np.testing.assert_array_equal(yb[4][mask[4]], last)
    # divisible: the mask is there and all True
    _, _, m2 = D.epoch_batches(KEY, XS[:20], YS[:20], 5, drop_last=False)
    assert m2.shape == (4, 5) and bool(m2.all())


def test_masked_mean_of_the_padded_batch_is_the_real_batch_mean():
    values = np.random.default_rng(0).normal(size=N).astype(np.float32)
    _, vb, mask = D.epoch_batches(KEY, XS, values, 5, drop_last=False)
    last = [b for _, b in D.iterate_batches(KEY, XS, values, 5, drop_last=False)][-1]
    masked = float(jnp.sum(mask[4] * vb[4]) / jnp.sum(mask[4]))
    np.testing.assert_allclose(masked, last.mean(), rtol=1e-6)


@pytest.mark.parametrize("batches", [D.iterate_batches, D.epoch_batches])
@pytest.mark.parametrize(
    "args, error, match",
    [
        ((KEY, XS, YS[:-1], 5), ValueError, r"x\.shape\[0\] = 23 and y\.shape\[0\] = 22"),
        ((KEY, XS, YS, 0), ValueError, r"batch_size must be a positive integer; got 0"),
        ((KEY, XS, YS, 2.0), ValueError, r"batch_size must be a positive integer; got 2\.0"),
        ((KEY, XS, YS, 24), ValueError, r"batch_size must be at most .* n = 23; got 24"),
        ((jax.random.split(KEY), XS, YS, 5), TypeError, r"key must be a single jax\.random key"),
        ((KEY, XS[:0], YS[:0], 5), ValueError, r"x is an empty batch"),
    ],
)
def test_bad_arguments(batches, args, error, match):
    with pytest.raises(error, match=match):
        batches(*args)  # iterate_batches checks before the first batch is requested


def test_traced_static_arguments_are_rejected():
    f = jax.jit(D.epoch_batches, static_argnames=("drop_last",))
    with pytest.raises(TypeError, match=r"batch_size must be a static Python value.*static_arg"):
        f(KEY, XS, YS, 5)
    g = jax.jit(D.epoch_batches, static_argnames=("batch_size",))
    with pytest.raises(TypeError, match=r"drop_last must be a static Python value"):
        g(KEY, XS, YS, 5, True)
