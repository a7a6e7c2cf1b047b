"""benchmarks.timing: interleaved rounds and chained steps."""

import pytest

from benchmarks import timing


def test_time_interleaved_alternates_and_counts():
    order = []
    calls = {n: (lambda n=n: order.append(n)) for n in "ab"}
    timings = timing.time_interleaved(calls, repeats=timing.MIN_REPEATS, warmup=0)
    assert {n: t.repeats for n, t in timings.items()} == {n: timing.MIN_REPEATS for n in "ab"}
    assert order[:4] == ["a", "b", "b", "a"]
    with pytest.raises(ValueError, match="repeats must be >= 20"):
        timing.time_interleaved(calls, repeats=5)


def test_time_interleaved_lets_every_contender_follow_every_other():
    order = []
    calls = {n: (lambda n=n: order.append(n)) for n in "abcd"}
    timing.time_interleaved(calls, repeats=200, warmup=0)
    rounds = [order[i : i + 4] for i in range(0, len(order), 4)]
    assert all(sorted(r) == list("abcd") for r in rounds)  # each round calls each once
    follows = {(p, n): 0 for p in "abcd" for n in "abcd" if p != n}
    for p, n in zip(order, order[1:]):
        if p != n:
            follows[p, n] += 1
    assert min(follows.values()) > 0.5 * max(follows.values())  # no fixed neighbour


def test_chain_feeds_outputs_back():
    chain = timing.Chain(lambda a, b, x: (a + x, b * 2, a), (1, 1), (10,))
    for _ in range(3):
        chain()
    assert chain.state == (31, 8) and chain.last[2] == 21
