"""The docstring examples (``>>>``) of the blocks, the hand-written backprop and the models run
and print what they show (``python -m pytest --doctest-modules funcnn/blocks funcnn/backprop
funcnn/models.py`` runs the same)."""

import doctest
import importlib
import pkgutil

import pytest

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


WITH_EXAMPLES = [name for name in _modules() if _examples(name)]


def test_the_public_examples_are_found():
    assert {"funcnn.models", "funcnn.blocks.serial", "funcnn.backprop.objective",
            "funcnn.backprop.bridge"} <= set(WITH_EXAMPLES)  # fmt: skip


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in _examples(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted > 0, name
