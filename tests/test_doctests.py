"""The docstring examples (``>>>``) of funcnn run as doctests beside the tests
(``--doctest-modules`` in pyproject.toml); this checks that the public examples are there to
be run."""

import doctest
import importlib
import pkgutil

import funcnn.backprop
import funcnn.blocks


def _modules():
    names = ["funcnn.models"]
    for package in (funcnn.blocks, funcnn.backprop):
        names += [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__)]
    return sorted(names)


def _examples(name):
    finder = doctest.DocTestFinder()
    return [t for t in finder.find(importlib.import_module(name)) if t.examples]


def test_the_public_examples_are_found():
    with_examples = {name for name in _modules() if _examples(name)}
    assert {"funcnn.models", "funcnn.blocks.serial", "funcnn.backprop.objective",
            "funcnn.backprop.bridge"} <= with_examples  # fmt: skip
