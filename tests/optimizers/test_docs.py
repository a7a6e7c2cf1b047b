"""The claims of docs/optimizers.md hold: its conventions table matches the presets, its
measured differences are what the runs give, and its first-step formulas are right."""

import ast
import inspect
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from funcnn import optimizers as O
from tests.optimizers import problem as P

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "optimizers.md"


def table(marker: str) -> list[list[str]]:
    """The body rows of the Markdown table between ``<!-- marker:begin/end -->``."""
    text = DOC.read_text()
    block = re.search(rf"<!-- {marker}:begin -->\n(.*?)<!-- {marker}:end -->", text, re.S)
    assert block, f"docs/optimizers.md has no {marker} table"
    lines = [ln for ln in block.group(1).splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]


def _option(cell: str) -> tuple[str, object]:
    name, value = re.fullmatch(r"`(\w+)=(.+)`", cell).groups()
    return name, ast.literal_eval(value)


def test_conventions_table_matches_the_presets():
    documented = set()
    for row in table("conventions"):
        names = [n.strip() for n in row[0].split(",")]
        paper_cell, optax_cell = (c.strip() for c in row[-1].split(" / "))
        (option, paper), (option2, optax_value) = _option(paper_cell), _option(optax_cell)
        assert option == option2, row
        for name in names:
            assert O.CONVENTIONS["paper"][name][option] == paper, (name, option)
            assert O.CONVENTIONS["optax"][name][option] == optax_value, (name, option)
            documented.add((name, option))
    presets = {(n, k) for n, opts in O.CONVENTIONS["paper"].items() for k in opts}
    assert documented == presets, f"undocumented: {presets - documented}"


def test_paper_preset_is_the_factories_defaults():
    for name, opts in O.CONVENTIONS["paper"].items():
        params = inspect.signature(O.OPTIMIZERS[name]).parameters
        for option, value in opts.items():
            if option in params:
                assert params[option].default == value, (name, option)


def test_measured_table_is_what_the_runs_give():
    rows = table("measured")
    labels = [P.row_label(*r) for r in P.TABLE_ROWS]
    assert [r[0] for r in rows] == labels
    measured = P.measure()
    for row in rows:
        for cell, value in zip(row[1:], measured[row[0]], strict=True):
            if cell == "rounding":
                assert value < P.ROUNDING, (row[0], cell, value)
            else:  # two significant digits
                assert value == pytest.approx(float(cell), rel=0.06), (row[0], cell, value)


# --- the first-step formulas of the notes --------------------------------------------------

G = jnp.array([1.0, -0.3, 0.01, -1e-3, 1e-5])
ETA = 0.1


def first_update(opt, g=G, params=None):
    params = jnp.ones_like(g) if params is None else params
    return np.asarray(opt.update({"w": g}, opt.init({"w": params}), {"w": params})[0]["w"])


def test_adagrad_first_steps():
    g = np.asarray(G)
    paper = first_update(O.adagrad(ETA))
    np.testing.assert_allclose(paper, -ETA * g / (1e-7 + np.abs(g)), rtol=1e-6)
    ours_optax = first_update(O.make("adagrad", ETA, conventions="optax"))
    theirs = first_update(optax.adagrad(ETA))
    np.testing.assert_allclose(theirs, -ETA * g / np.sqrt(g**2 + 0.1 + 1e-7), rtol=1e-6)
    np.testing.assert_allclose(ours_optax, theirs, rtol=1e-6)
    ratio = paper[2] / theirs[2]  # |g| = 0.01: about 0.32 / 0.01
    assert 28 < ratio < 34
    assert abs(paper[0] / theirs[0] - 1) < 0.06  # |g| = 1: close


def test_rmsprop_first_steps_and_the_root_of_eps():
    g = np.asarray(G)
    paper = first_update(O.rmsprop(ETA))
    np.testing.assert_allclose(paper, -ETA * g / (np.sqrt(0.1) * np.abs(g) + 1e-8), rtol=1e-5)
    theirs = first_update(optax.rmsprop(ETA))
    np.testing.assert_allclose(theirs, -ETA * g / np.sqrt(0.1 * g**2 + 1e-8), rtol=1e-5)
    # eps inside the root is a floor of sqrt(eps) = 1e-4 on the denominator: a gradient of
    # 1e-5 steps by g / 1e-4 in optax, by the full sign(g) / sqrt(0.1) in the paper's form
    assert theirs[4] == pytest.approx(-ETA * 1e-5 / 1e-4, rel=1e-3)
    assert paper[4] == pytest.approx(-ETA / np.sqrt(0.1), rel=5e-3)


def test_adamw_decay_per_step():
    """With a zero gradient the step is the decay alone: lambda w (paper), lr lambda w (optax)."""
    w = jnp.full(3, 2.0)
    zero = jnp.zeros(3)
    paper = first_update(O.adamw(1e-3, weight_decay=0.01), zero, w)
    theirs = first_update(optax.adamw(1e-3, weight_decay=0.01), zero, w)
    np.testing.assert_allclose(paper, -0.01 * 2.0, rtol=1e-6)
    np.testing.assert_allclose(theirs, -1e-3 * 0.01 * 2.0, rtol=1e-6)


def test_make_paper_decay_is_not_scaled_by_the_learning_rate():
    """The docs' example: funcnn.train's weight_decay=0.05 at lr=7e-3 is 3.5e-4 here."""
    params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array([0.5, 0.5])}
    grads = jax.tree.map(lambda p: 0.1 * p + 0.3, params)
    for name in ("sgd", "adamw"):
        a = O.make(name, 7e-3, weight_decay=3.5e-4)
        b = O.make(name, 7e-3, weight_decay=0.05, conventions="optax")
        ua = a.update(grads, a.init(params), params)[0]
        ub = b.update(grads, b.init(params), params)[0]
        jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6), ua, ub)
        plain = O.make(name, 7e-3, weight_decay=0.0)
        up = plain.update(grads, plain.init(params), params)[0]
        np.testing.assert_array_equal(ua["b"], up["b"])  # biases do not decay
        assert np.all(np.abs(ua["w"] - up["w"]) > 1e-4)  # weights do
