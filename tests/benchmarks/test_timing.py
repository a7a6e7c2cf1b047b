"""benchmarks.timing: interleaved rounds, blocking, budgets and chained steps."""

import pytest

from benchmarks import timing


def test_time_interleaved_alternates_and_counts():
    order = []
    calls = {n: (lambda n=n: order.append(n)) for n in "ab"}
    timings = timing.time_interleaved(calls, repeats=timing.MIN_REPEATS, warmup=1)
    assert {n: t.repeats for n, t in timings.items()} == {n: timing.MIN_REPEATS for n in "ab"}
    assert order[:6] == ["a", "b", "a", "b", "b", "a"]  # warm-up round, then A B, B A
    assert len(order) == 2 * (timing.MIN_REPEATS + 1)
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


def test_every_timed_call_is_blocked_on_its_own_result():
    blocked = []
    calls = {"a": lambda: "out a", "b": lambda: "out b"}
    blockers = {"a": blocked.append}  # "b" uses timing.block
    timing.time_interleaved(calls, repeats=timing.MIN_REPEATS, warmup=2, blockers=blockers)
    assert blocked == ["out a"] * (timing.MIN_REPEATS + 2)


def test_paired_ratio_is_the_median_of_per_round_ratios():
    a = timing.Timing((1.0, 2.0, 9.0))
    b = timing.Timing((2.0, 1.0, 3.0))
    assert timing.paired_ratio(a, b) == 2.0  # rounds 0.5, 2, 3
    assert a.median / b.median == 1.0  # the ratio of medians is another figure
    with pytest.raises(ValueError, match="equal repeats"):
        timing.paired_ratio(a, timing.Timing((1.0,)))


def test_repeats_fill_the_budget_within_bounds():
    assert timing.repeats_for(1 / 64, 1.0) == 64
    assert timing.repeats_for(1.0, 1.0) == timing.MIN_REPEATS
    assert timing.repeats_for(1e-6, 1.0, max_repeats=300) == 300
    assert timing.repeats_for(0.0, 1.0) == timing.MIN_REPEATS


def test_time_within_budget_retimes_when_the_budget_allows(monkeypatch):
    calls = []
    monkeypatch.setattr(timing, "repeats_for", lambda median, budget: 50)
    t = timing.time_within_budget(lambda: calls.append(1), budget_s=1.0, warmup=3)
    assert t.repeats == 50 and len(calls) == 3 + timing.MIN_REPEATS + 50


def test_chain_feeds_outputs_back():
    chain = timing.Chain(lambda a, b, x: (a + x, b * 2, a), (1, 1), (10,))
    for _ in range(3):
        chain()
    assert chain.state == (31, 8) and chain.last[2] == 21
