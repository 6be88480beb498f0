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
import statistics
import subprocess
import sys
from functools import partial
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
    assert lines[targets_title + 1].split() == [
        *["optimizer", "target", "measured", "goal", "ceiling", "met", "from"]
    ]
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
        "divider_elements_per_second",
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
        assert {
            *["optimizer", "name", "value", "goal", "met", "where"],
            *["ceiling", "within_reach"],
        } <= target.keys()
    for rate in report["divider_elements_per_second"].values():
        assert rate > 0

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


def fake_row(suite, case, key, threads, params, fastoptim_seconds, reference_seconds):
    timings = {name: suite.Measurement(status="n/a") for name in suite.IMPLEMENTATIONS}
    timings["fastoptim"] = suite.Measurement(status="ok", median=fastoptim_seconds)
    timings["reference"] = suite.Measurement(status="ok", median=reference_seconds)
    shapes = ((params,),)
    return suite.make_row(
        suite.Case(case, case, shapes), key, "float32", threads, timings
    )


def test_the_ceiling_comes_from_the_fastest_stream_and_the_divider():
    suite = load_suite()
    # SGD moves 12 bytes a parameter: 1.2 MB in 10 us is 120 GB/s, the fastest
    # stream here, though the probe reads only 50 GB/s from main memory.
    sgd = fake_row(suite, "1e5", "sgd", 2, 100_000, 10e-6, 100e-6)
    adam = fake_row(suite, "1e5", "adam", 2, 100_000, 40e-6, 600e-6)
    # A larger case's rate counts, a smaller one's does not: it may sit in a cache
    # the larger case does not fit in.
    small = fake_row(suite, "1e3", "sgd", 2, 1000, 10e-9, 1e-6)
    rows = [sgd, adam, small]
    bandwidth = {2: 50e9}

    def least(row, divider):
        return suite.least_step_seconds(row, rows, bandwidth, divider)

    assert least(sgd, {}) == pytest.approx(10e-6)
    assert least(sgd, {"float32": 1.0}) == pytest.approx(10e-6)
    # Adam's 2.8 MB at 120 GB/s take 23 us; its divisions, 1e5 on 2 threads at 1e9
    # a second each, take longer: 50 us.
    assert least(adam, {}) == pytest.approx(2.8e6 / 120e9)
    assert least(adam, {"float32": 1e9}) == pytest.approx(50e-6)

    for divider, ceiling in (({}, 600e-6 * 120e9 / 2.8e6), ({"float32": 1e9}, 12.0)):
        targets = suite.compute_targets(
            rows, ["adam"], 2, lambda row, divider=divider: least(row, divider)
        )
        against_reference = targets[-1]
        assert against_reference.name == "x reference, worst array >= 1e5"
        assert against_reference.value == pytest.approx(15.0)
        assert against_reference.met is False
        assert against_reference.ceiling == pytest.approx(ceiling)
        assert against_reference.within_reach is (ceiling >= 20)
    assert "out of reach" in suite.format_targets(targets)[-1]


def test_a_ceiling_against_torch_takes_each_round_at_its_own_bandwidth():
    suite = load_suite()
    # Adam, 1e7 parameters: 280 MB a step. The bus gives 100 GB/s in the first
    # round and 50 in the others, and torch's fused step streams at the bus in
    # each; fastoptim, a little slower, at 90% of it.
    readings = [100e9, 50e9, 50e9]
    bus = [280e6 / reading for reading in readings]
    timings = {name: suite.Measurement(status="n/a") for name in suite.IMPLEMENTATIONS}
    for name, times in (
        ("fastoptim", [seconds / 0.9 for seconds in bus]),
        ("torch_fused", bus),
        ("reference", [20 * seconds for seconds in bus]),
    ):
        timings[name] = suite.Measurement(
            status="ok", median=statistics.median(times), per_rep=times
        )
    case = suite.Case("1.6e7", "1.6e7", ((10_000_000,),))
    row = suite.make_row(case, "adam", "float32", 2, timings, readings)
    # The divider, at 1e10 a second on each of 2 threads, needs 0.5 ms, less than
    # the bus in every round; at 1e8, 50 ms, more.
    divider = {"float32": 1e10}
    assert suite.least_step_seconds_by_round(row, divider) == pytest.approx(bus)
    assert suite.least_step_seconds_by_round(row, {"float32": 1e8}) == (
        pytest.approx([0.05] * 3)
    )

    targets = suite.compute_targets(
        [row],
        ["adam"],
        2,
        partial(suite.least_step_seconds, rows=[row], bandwidth={2: 100e9}),
        partial(suite.least_step_seconds_by_round, divider=divider),
    )
    against_torch = next(t for t in targets if t.metric == "x torch_fused")
    assert against_torch.value == pytest.approx(0.9)
    # Taken against the best reading of the run, torch's median time would leave
    # room for 2x; round by round, torch already streams at the bus.
    assert against_torch.ceiling == pytest.approx(1.0)
    assert against_torch.within_reach is False
    against_reference = targets[-1]
    assert against_reference.ceiling == pytest.approx(20.0)
    # Without readings, the ceiling falls back on the least time of the whole run:
    # the 2x above.
    row.probe_readings = []
    assert suite.ceiling_of(
        row,
        "x torch_fused",
        lambda row: 2.8e-3,
        partial(suite.least_step_seconds_by_round, divider=divider),
    ) == pytest.approx(5.6e-3 / 2.8e-3)


def test_batches_are_sized_from_warm_up_batches_not_one_cold_call(monkeypatch):
    suite = load_suite()
    clock = [0.0]
    calls = []

    def step():
        # The first call finds cold caches: 30 us; the others take 4 us.
        clock[0] += 30e-6 if not calls else 4e-6
        calls.append(clock[0])

    monkeypatch.setattr(suite.time, "perf_counter", lambda: clock[0])

    # Batches of 1, 2, 4, ... calls until one lasts 5 ms: 2048 calls of 4 us.
    assert suite.seconds_per_call(step, 1, 0.02) == pytest.approx(4e-6)
    assert len(calls) == 4095
    # However long a call, the warm-up makes as many as asked, and the time comes
    # from the last batch: a cold 30 us, then 2 calls of 4 us.
    calls.clear()
    assert suite.seconds_per_call(step, 3, 1e-6) == pytest.approx(4e-6)
    assert len(calls) == 3


def test_rounds_take_turns_and_pair_the_ratios(monkeypatch):
    suite = load_suite()
    clock = [0.0]
    order = []

    def step(name, seconds):
        def take():
            order.append(name)
            clock[0] += seconds

        return take

    def probe():
        order.append("probe")
        return 50e9

    monkeypatch.setattr(suite.time, "perf_counter", lambda: clock[0])
    settings = suite.Settings(
        warmup_steps=2,
        min_reps=4,
        max_reps=4,
        min_rep_seconds=0.0,
        budget_seconds=1.0,
        reference_max_params=1,
        bandwidth_megabytes=1,
        bandwidth_cache_multiple=0,
        bandwidth_repeats=1,
        settle_seconds=0.0,
    )
    steps = {"fastoptim": step("fastoptim", 1.0), "reference": step("reference", 3.0)}

    def sleep(seconds):
        order.append(f"sleep {seconds}")

    monkeypatch.setattr(suite.time, "sleep", sleep)
    timed, readings = suite.time_interleaved(steps, settings, probe, 0.5)

    # One warm-up call each, then four rounds whose order rotates, each turn after
    # a sleep that lets the threads of the one before stop polling.
    assert order[:2] == ["fastoptim", "reference"]
    assert order[2::2] == ["sleep 0.5"] * 12
    turns = order[3::2]
    rounds = [turns[3 * i : 3 + 3 * i] for i in range(4)]
    assert rounds[0] == ["fastoptim", "reference", "probe"]
    assert rounds[1] == ["reference", "probe", "fastoptim"]
    assert rounds[2] == ["probe", "fastoptim", "reference"]
    assert readings == [50e9] * 4
    assert timed["fastoptim"].per_rep == [1.0] * 4
    assert timed["reference"].per_rep == [3.0] * 4

    # The ratio is taken round by round: a slow round slows both of its figures.
    fast = suite.Measurement("ok", median=1.5, per_rep=[1.0, 2.0, 1.0])
    slow = suite.Measurement("ok", median=6.0, per_rep=[3.0, 6.0, 3.0])
    assert suite.paired_ratio(slow, fast) == pytest.approx(3.0)
    apart = suite.Measurement("ok", median=6.0, per_rep=[6.0])
    assert suite.paired_ratio(apart, fast) == pytest.approx(4.0)


def test_the_bound_of_a_line_that_read_the_probe_comes_from_its_rounds():
    suite = load_suite()
    row = fake_row(suite, "1.6e7", "sgd", 2, 1_000_000, 1e-3, 4e-3)
    row.timings["fastoptim"].per_rep = [1e-3, 2e-3]
    # 12 MB a step: 12 GB/s in the first round against a probe reading 24 GB/s, 6
    # GB/s in the second against 12 GB/s: half the bound in each.
    row.probe_readings = [24e9, 12e9]
    other = fake_row(suite, "1.6e7", "adam", 2, 1_000_000, 1e-3, 4e-3)

    suite.apply_bounds([row, other], {2: 100e9})

    assert row.bound == pytest.approx(18e9 / 12)
    assert row.fraction_of_bound == pytest.approx(0.5)
    assert other.bound == pytest.approx(100e9 / 28)
    assert other.fraction_of_bound == pytest.approx(1e6 / 1e-3 / (100e9 / 28))
