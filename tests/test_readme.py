"""The quick start of README.md runs and trains."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_quick_start_trains(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    namespace: dict = {}

    exec(compile(blocks[0], str(README), "exec"), namespace)

    assert "final loss" in capsys.readouterr().out
    # The noise alone costs 0.01; an untrained network costs about 0.5.
    assert namespace["loss"] < 0.03
