"""python -m fastoptim trains the digits network; its runs agree with the reference."""

from __future__ import annotations

import subprocess
import sys


def run_showcase(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "fastoptim", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
    )


def test_every_optimizer_and_schedule_trains_and_matches_the_reference(tmp_path):
    result = run_showcase(
        "--epochs", "3", "--png", str(tmp_path / "curves.png"), cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "identical" in line]
    assert len(rows) == 8
    for name in ("SGD", "Momentum", "Adam", "AdamW"):
        assert sum(row.startswith(name + " ") for row in rows) == 2
    accuracies = [float(row.split()[2].rstrip("%")) for row in rows]
    # Three epochs already take every run well past chance (10%).
    assert min(accuracies) > 80.0
    assert "training [" in result.stderr


def test_bad_option_is_refused(tmp_path):
    result = run_showcase("--epochs", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "--epochs, --batch-size and --hidden must be positive" in result.stderr
