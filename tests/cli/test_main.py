"""The funcnn command's top level."""

import subprocess
import sys

import pytest

import funcnn
from funcnn.cli import main


def test_version_and_help_in_process(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"funcnn {funcnn.__version__}"
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: funcnn" in out and "gradcheck" in out and "train" in out


def test_console_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "funcnn", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"funcnn {funcnn.__version__}"


def test_heavier_submodules_load_on_first_use():
    assert funcnn.backprop.value_and_grad is not None
    assert callable(funcnn.train.fit) and callable(funcnn.data.load)
    assert callable(funcnn.gradcheck.compare_grads)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        funcnn.nope  # noqa: B018
