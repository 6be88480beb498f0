"""The step-time benchmark runs and prints its table.

Only the structure of the output is checked: a test that compared speeds would fail
on a loaded CI machine without anything being wrong.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "step_time.py"
LABELS = ("SGD", "SGD momentum=0.9", "Momentum", "Adam", "AdamW")


def test_quick_mode_prints_a_row_per_optimizer_with_a_speedup(tmp_path):
    report_path = tmp_path / "results.json"

    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(report_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    header = next(line for line in lines if line.startswith("optimizer"))
    assert header.split()[-1] == "speedup"
    assert "fastoptim" in completed.stdout.splitlines()[0]

    rows = lines[lines.index(header) + 2 :]
    for label in LABELS:
        # Labels share prefixes ("Adam", "AdamW") and contain single spaces, while
        # columns are separated by two or more, so compare the whole first cell.
        matching = [row for row in rows if re.split(r"\s{2,}", row)[0] == label]
        assert matching, f"no row for {label}"
        for row in matching:
            assert row.split()[-1].endswith("x"), row

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["mode"] == "quick"
    assert {result["label"] for result in report["results"]} == set(LABELS)
    for result in report["results"]:
        assert {"cpp", "reference", "speedup", "dtype", "size"} <= result.keys()
