"""Autodiff is the reference, never the implementation: nothing in funcnn.backprop calls it."""

import ast
import pathlib

from funcnn import backprop as bp

FORBIDDEN = {"grad", "vjp", "jvp", "value_and_grad", "linearize", "jacfwd", "jacrev", "hessian"}


def _autodiff_uses(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN:
            base = node.value
            name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
            if name in {"jax", "api", "ad"}:
                found.append(f"{name}.{node.attr} (line {node.lineno})")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jax"):
            found += [
                f"from {node.module} import {a.name}" for a in node.names if a.name in FORBIDDEN
            ]
    return found


def test_scanner_finds_autodiff_calls():
    assert _autodiff_uses("import jax\ng = jax.grad(f)\n")
    assert _autodiff_uses("from jax import value_and_grad\n")
    assert _autodiff_uses("import jax\njax.vjp(f, x)\n")
    assert _autodiff_uses("import jax\nfrom jax import linearize as lin\n")
    assert not _autodiff_uses("def value_and_grad(model, loss):\n    return model\n")


def test_backprop_package_never_calls_jax_autodiff():
    root = pathlib.Path(bp.__file__).parent
    files = sorted(root.glob("*.py"))
    assert {f.name for f in files} >= {
        "__init__.py",
        "dense.py",
        "losses.py",
        "registry.py",
        "serial.py",
        "mlp.py",
        "attention.py",
        "bridge.py",
        "objective.py",
        "closed_forms.py",
    }
    for f in files:
        assert _autodiff_uses(f.read_text()) == [], f
