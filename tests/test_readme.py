"""The README's code runs: the architecture section's example of adding a block."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README section whose heading starts with ``section``."""
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


def test_adding_a_block_example_runs_and_its_gradients_check(capsys):
    (code,) = python_blocks("Architecture")
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "PASSED" in out and "['s']" in out  # the new block's leaf is in the table
    # The example's backward is really what was checked: a wrong one fails the same check.
    backprop, gradcheck = namespace["backprop"], namespace["gradcheck"]
    scale = namespace["Scale"]
    backprop.register(
        scale,
        namespace["scale_forward"],
        lambda block, params, x, dout: ({"s": -jnp_sum(dout * x)}, dout * params["s"][None, :]),
    )
    try:
        case = gradcheck.model_case("scale", "scale", "tanh", "mse", namespace["net"])
        assert not gradcheck.run_case(case).passed
    finally:
        backprop.register(scale, namespace["scale_forward"], namespace["scale_backward"])


def jnp_sum(a):
    import jax.numpy as jnp

    return jnp.sum(a, axis=0)
