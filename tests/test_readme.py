"""The README's research-code snippet runs verbatim."""
import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).parents[1] / "README.md"


def _snippet():
    text = README.read_text()
    match = re.search(r"<!-- research-snippet[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md lost its research snippet"
    return match.group(1)


def test_research_snippet_runs():
    namespace = {}
    exec(compile(_snippet(), str(README), "exec"), namespace)
    assert namespace["images"].shape == (64, 28, 28, 1)
    assert np.isfinite(float(namespace["metrics"]["d_loss"]))
    assert int(namespace["state"].step) == 1
    assert namespace["p_metrics"]["g_loss"].shape == (namespace["jax"].local_device_count(),)
