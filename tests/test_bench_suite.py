"""The benchmark suite's quick mode runs and reports in the expected shape.

Only the structure of the table and the keys of the JSON file are checked, never a
speed: a loaded CI machine would fail a test that compared timings without anything
being wrong. torch and matplotlib are optional, so the suite runs once as installed
and once with both hidden from it, whichever of them this environment has.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "suite.py"
LABELS = {"SGD", "SGD+momentum", "Momentum", "Adam", "AdamW"}
IMPLEMENTATIONS = {
    "fastoptim",
    "reference",
    "torch_forloop",
    "torch_foreach",
    "torch_fused",
}
HEADER = [
    "optimizer",
    "dtype",
    "thr",
    *["time", "params/s", "bound"],
    *["time", "x"] * 4,
]
TIME_CELL = re.compile(r"[0-9.]+(ns|us|ms|s)±([0-9]+|99\+)%")
RATIO_CELL = re.compile(r"[0-9.]+x|n/a|-")

# A None entry in sys.modules makes the import raise ImportError, as if the package
# were not installed; runpy then runs the script as `python script ...` would.
HIDE_OPTIONAL = (
    "import runpy, sys; sys.modules.update(torch=None, matplotlib=None); "
    "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def run_quick(tmp_path: Path, hide_optional: bool) -> tuple[str, dict, Path]:
    report_path = tmp_path / "suite.json"
    png_path = tmp_path / "suite.png"
    python = (
        [sys.executable, "-c", HIDE_OPTIONAL] if hide_optional else [sys.executable]
    )
    command = [
        *python,
        str(SCRIPT),
        "--quick",
        "--json",
        str(report_path),
        "--png",
        str(png_path),
    ]

    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False
    )

    assert completed.returncode == 0, completed.stderr
    report = json.loads(report_path.read_text(encoding="utf-8"))
    return completed.stdout, report, png_path


def table_sections(lines: list[str]) -> list[list[list[str]]]:
    """The rows of each case's table, split into cells."""
    sections = []
    for index, line in enumerate(lines):
        if line.split() != HEADER:
            continue
        assert set(lines[index + 1]) == {"-"}, lines[index + 1]
        rows = []
        for row in lines[index + 2 :]:
            if not row.strip():
                break
            rows.append(row.split())
        sections.append(rows)
    return sections


@pytest.mark.parametrize(
    "hide_optional", [False, True], ids=["as-installed", "without-torch-matplotlib"]
)
def test_quick_mode_prints_the_tables_and_writes_the_report(tmp_path, hide_optional):
    stdout, report, png_path = run_quick(tmp_path, hide_optional)
    lines = stdout.splitlines()

    assert lines[0].startswith("fastoptim ")
    sections = table_sections(lines)
    assert len(sections) == len(report["cases"])
    for rows in sections:
        assert len(rows) == len(LABELS) * 2 * len(report["threads"])
        assert {row[0] for row in rows} == LABELS
        for row in rows:
            assert len(row) == len(HEADER), row
            assert row[1] in {"f32", "f64"}
            assert int(row[2]) in report["threads"]
            assert TIME_CELL.fullmatch(row[3]), row
            for time_cell, ratio_cell in zip(row[6::2], row[7::2]):
                assert TIME_CELL.fullmatch(time_cell) or time_cell in {"n/a", "-"}
                assert RATIO_CELL.fullmatch(ratio_cell), row

    targets_title = next(
        i for i, line in enumerate(lines) if line.startswith("targets")
    )
    assert lines[targets_title + 1].split()[:2] == ["optimizer", "target"]
    target_lines = lines[targets_title + 3 : targets_title + 3 + len(report["targets"])]
    for line, target in zip(target_lines, report["targets"]):
        assert line.startswith(target["optimizer"])
        assert target["name"] in line

    assert {
        "mode",
        "machine",
        "fastoptim",
        "settings",
        "threads",
        "bandwidth_probe_megabytes",
        "bandwidth_bytes_per_second",
        "bandwidth_probes",
        "bytes_per_param",
        "cases",
        "results",
        "targets",
        "notes",
        "warnings",
        "png",
    } <= report.keys()
    assert report["mode"] == "quick"
    assert len(report["results"]) == sum(len(rows) for rows in sections)
    for result in report["results"]:
        assert {
            "case",
            "optimizer",
            "dtype",
            "threads",
            "params",
            "bound",
            "ratios",
            "params_per_second",
            "fraction_of_bound",
        } <= result.keys()
        assert result["timings"].keys() == IMPLEMENTATIONS
        assert result["ratios"].keys() == IMPLEMENTATIONS - {"fastoptim"}
        for timing in result["timings"].values():
            assert timing["status"] in {"ok", "n/a", "skipped"}
            if timing["status"] == "ok":
                assert {"median", "minimum", "maximum", "spread", "per_rep"} <= (
                    timing.keys()
                )
        assert result["timings"]["fastoptim"]["status"] == "ok"
    for target in report["targets"]:
        assert {"optimizer", "name", "value", "goal", "met", "where"} <= target.keys()

    if hide_optional:
        for result in report["results"]:
            for name in IMPLEMENTATIONS - {"fastoptim", "reference"}:
                assert result["timings"][name]["status"] == "n/a"
    if report["png"] is None:
        assert any(
            line.startswith("note: matplotlib is not installed") for line in lines
        )
        assert not png_path.exists()
    else:
        assert png_path.read_bytes().startswith(b"\x89PNG")


def load_suite():
    spec = importlib.util.spec_from_file_location("fastoptim_bench_suite", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("cache", "full", "quick"),
    [(None, 512, 512), (32 * 2**20, 512, 512), (480 * 2**20, 1920, 512)],
    ids=["unknown", "32MiB", "480MiB"],
)
def test_the_full_probe_streams_four_times_a_big_cache(monkeypatch, cache, full, quick):
    suite = load_suite()
    monkeypatch.setattr(suite, "last_level_cache_bytes", lambda: cache)

    assert suite.probe_megabytes(suite.FULL) == full
    assert suite.probe_megabytes(suite.QUICK) == quick
