"""funcnn/__init__.py: the core loads on import; backprop, gradcheck, data and train (with orbax
and scikit-learn behind them) load on first attribute access, and only then."""

import json
import subprocess
import sys

# Run in a fresh interpreter: in the test process, other tests have imported everything.
SCRIPT = """
import json, sys

HEAVY = ("funcnn.backprop", "funcnn.gradcheck", "funcnn.data", "funcnn.train", "orbax", "sklearn")

def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)

import funcnn

steps = {"import funcnn": loaded()}
for name in ("backprop", "gradcheck", "data", "train"):
    module = getattr(funcnn, name)
    assert module is sys.modules["funcnn." + name], name
    steps["funcnn." + name] = loaded()
try:
    funcnn.nope
except AttributeError as e:
    steps["error"] = str(e)
print(json.dumps(steps))
"""


def test_heavy_submodules_load_on_first_attribute_access_only():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    steps = json.loads(result.stdout.strip().splitlines()[-1])
    assert steps["import funcnn"] == []
    assert steps["funcnn.backprop"] == ["funcnn.backprop"]
    assert steps["funcnn.gradcheck"] == ["funcnn.backprop", "funcnn.gradcheck"]
    assert "funcnn.data" in steps["funcnn.data"] and "funcnn.train" not in steps["funcnn.data"]
    assert "funcnn.train" in steps["funcnn.train"]
    assert steps["error"] == "module 'funcnn' has no attribute 'nope'"
