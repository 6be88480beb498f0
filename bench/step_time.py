"""Time one ``step()`` of each optimizer: the C++ kernels against the NumPy reference.

Run from anywhere, after ``fastoptim`` is installed::

    python bench/step_time.py            # full table, a few minutes
    python bench/step_time.py --quick    # small subset, a few seconds
    python bench/step_time.py --json results.json --optimizer adam --size 1e6

Every case is one parameter array of a given size and dtype with a fixed random
gradient, stepped by ``fastoptim.X`` and by ``fastoptim.reference.X`` built with the
same hyperparameters. Each figure is the median over several timed repetitions taken
after a warm-up; the spread is (max - min) / median over those repetitions. Nothing
here asserts a speed: the numbers depend on the machine and on its load.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import fastoptim
import fastoptim.reference

# Label shown in the table, class name in both modules, and constructor keywords.
OPTIMIZERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "sgd": ("SGD", "SGD", {"lr": 1e-2}),
    "sgd-momentum": ("SGD momentum=0.9", "SGD", {"lr": 1e-2, "momentum": 0.9}),
    "momentum": ("Momentum", "Momentum", {"lr": 1e-2, "gamma": 0.9}),
    "adam": ("Adam", "Adam", {"lr": 1e-3}),
    "adamw": ("AdamW", "AdamW", {"lr": 1e-3}),
}
DTYPES = ("float32", "float64")
SIZES = (1_000, 10_000, 100_000, 1_000_000, 10_000_000)
QUICK_SIZES = (1_000, 100_000)

# Small gradients keep the parameters finite and away from subnormals however many
# steps the batches add up to, so late repetitions time the same arithmetic as early.
GRADIENT_SCALE = 1e-3


@dataclass(frozen=True)
class Settings:
    """How hard to time each measurement.

    A repetition runs a batch of steps lasting at least ``min_rep_seconds``, so the
    timer's resolution and the Python loop overhead stay small next to the figure.
    ``budget_seconds`` caps the repetitions of one measurement, which is what lets
    the 1e7 cases run with fewer of them; ``min_reps`` is kept regardless.
    """

    warmup_steps: int
    max_reps: int
    min_reps: int
    min_rep_seconds: float
    budget_seconds: float


FULL = Settings(
    warmup_steps=3, max_reps=11, min_reps=3, min_rep_seconds=0.05, budget_seconds=1.5
)
QUICK = Settings(
    warmup_steps=2, max_reps=3, min_reps=3, min_rep_seconds=0.002, budget_seconds=0.05
)


@dataclass
class Timing:
    """Seconds per step of one implementation on one case."""

    median: float
    minimum: float
    maximum: float
    spread: float
    batch: int
    per_rep: list[float]


@dataclass
class Result:
    """One row of the table."""

    optimizer: str
    label: str
    dtype: str
    size: int
    cpp: Timing
    reference: Timing
    speedup: float


def time_steps(step: Callable[[], None], settings: Settings) -> Timing:
    """Return the time per call of ``step`` after a warm-up, over batched repetitions.

    The warm-up calls also size the batch: the fastest of them estimates one step,
    which a noisy first call (page faults on fresh optimizer state) does not skew.
    """
    single = math.inf
    for _ in range(settings.warmup_steps):
        start = time.perf_counter()
        step()
        single = min(single, time.perf_counter() - start)
    single = max(single, 1e-9)

    batch = max(1, math.ceil(settings.min_rep_seconds / single))
    affordable = int(settings.budget_seconds / (batch * single))
    reps = max(settings.min_reps, min(settings.max_reps, affordable))

    # A collection pass landing inside one repetition would show up as noise that
    # belongs to neither implementation.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        per_rep = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(batch):
                step()
            per_rep.append((time.perf_counter() - start) / batch)
    finally:
        if gc_was_enabled:
            gc.enable()

    median = statistics.median(per_rep)
    return Timing(
        median=median,
        minimum=min(per_rep),
        maximum=max(per_rep),
        spread=(max(per_rep) - min(per_rep)) / median,
        batch=batch,
        per_rep=per_rep,
    )


def time_implementation(
    module: Any,
    key: str,
    initial: np.ndarray,
    grads: list[np.ndarray],
    settings: Settings,
) -> Timing:
    """Time ``module``'s optimizer ``key`` stepping its own copy of ``initial``."""
    _, class_name, kwargs = OPTIMIZERS[key]
    params = [initial.copy()]
    optimizer = getattr(module, class_name)(params, **kwargs)
    timing = time_steps(lambda: optimizer.step(grads), settings)

    if not np.all(np.isfinite(params[0])):
        print(
            f"warning: {module.__name__}.{class_name} left non-finite parameters "
            f"({initial.dtype}, size {initial.size}); its timing may not be typical",
            file=sys.stderr,
        )
    return timing


def run_case(key: str, dtype: str, size: int, settings: Settings) -> Result:
    """Time both implementations on the same parameters and gradient."""
    # One seed per case so that reruns and subsets time identical data.
    seed = [size, DTYPES.index(dtype), list(OPTIMIZERS).index(key)]
    rng = np.random.default_rng(seed)
    initial = rng.standard_normal(size).astype(dtype)
    grads = [(GRADIENT_SCALE * rng.standard_normal(size)).astype(dtype)]

    cpp = time_implementation(fastoptim, key, initial, grads, settings)
    # Drop the C++ optimizer's state before the reference allocates its own, so the
    # 1e7 cases never hold two sets of buffers at once.
    gc.collect()
    reference = time_implementation(fastoptim.reference, key, initial, grads, settings)
    gc.collect()

    return Result(
        optimizer=key,
        label=OPTIMIZERS[key][0],
        dtype=dtype,
        size=size,
        cpp=cpp,
        reference=reference,
        speedup=reference.median / cpp.median,
    )


def check_agreement(keys: Sequence[str], dtypes: Sequence[str]) -> list[str]:
    """Return a warning for each optimizer whose C++ step disagrees with the reference.

    A kernel that updated a temporary copy, or nothing at all, would time fast and be
    wrong, so before trusting the table make sure one step moves the caller's array
    and lands where the reference does.
    """
    warnings = []
    for key in keys:
        _, class_name, kwargs = OPTIMIZERS[key]
        for dtype in dtypes:
            rng = np.random.default_rng(0)
            initial = rng.standard_normal(1000).astype(dtype)
            grads = [rng.standard_normal(1000).astype(dtype)]
            results = []
            for module in (fastoptim, fastoptim.reference):
                params = [initial.copy()]
                optimizer = getattr(module, class_name)(params, **kwargs)
                for _ in range(3):
                    optimizer.step(grads)
                results.append(params[0])
            cpp, reference = results

            # Loose enough for a different but sound order of operations; a lost or
            # wrong update is off by the size of a step, far above this.
            tolerance = 1e-4 if dtype == "float32" else 1e-9
            if np.array_equal(cpp, initial):
                warnings.append(
                    f"{class_name} {kwargs} {dtype}: C++ left params unchanged"
                )
            elif not np.allclose(cpp, reference, rtol=tolerance, atol=tolerance):
                error = float(np.max(np.abs(cpp.astype(np.float64) - reference)))
                warnings.append(
                    f"{class_name} {kwargs} {dtype}: C++ differs from the reference "
                    f"after 3 steps (max abs difference {error:.3g})"
                )
    return warnings


def cpu_model() -> str:
    """Return the CPU model name from /proc/cpuinfo, or what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict[str, Any]:
    """Describe what the numbers were measured on."""
    # The affinity mask is what this process may actually use under a container or
    # taskset, which can be fewer cores than the machine has.
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "fastoptim": getattr(fastoptim, "__version__", "unknown"),
        "fastoptim_path": os.path.dirname(fastoptim.__file__),
    }


def format_seconds(seconds: float) -> str:
    """Format a duration with a unit that keeps three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_size(size: int) -> str:
    """Write a power of ten as 1eN, which reads faster in a column; others in full."""
    exponent = len(str(size)) - 1
    return f"1e{exponent}" if size == 10**exponent else str(size)


def format_rate(per_second: float) -> str:
    """Format a count per second with an SI prefix."""
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{prefix}"
    return f"{per_second:.3g}"


COLUMNS = (
    ("optimizer", 16, "<"),
    ("dtype", 7, "<"),
    ("size", 8, ">"),
    ("C++ time", 9, ">"),
    ("range%", 6, ">"),
    ("ref time", 9, ">"),
    ("range%", 6, ">"),
    ("C++ params/s", 12, ">"),
    ("ref params/s", 12, ">"),
    ("speedup", 7, ">"),
)


def format_row(cells: Sequence[str]) -> str:
    """Join cells into one line aligned under COLUMNS."""
    return "  ".join(
        f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, COLUMNS)
    )


def table_row(result: Result) -> str:
    """Return the table line for one result."""
    return format_row(
        (
            result.label,
            result.dtype,
            format_size(result.size),
            format_seconds(result.cpp.median),
            f"{100 * result.cpp.spread:.0f}",
            format_seconds(result.reference.median),
            f"{100 * result.reference.spread:.0f}",
            format_rate(result.size / result.cpp.median),
            format_rate(result.size / result.reference.median),
            f"{result.speedup:.2f}x",
        )
    )


def parse_size(text: str) -> int:
    """Accept sizes written as 1e6 as well as 1000000."""
    try:
        size = int(float(text))
    except ValueError:
        message = f"size must be a number, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"size must be at least 1, got {text!r}")
    return size


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description="Time one step() of each fastoptim optimizer, C++ against the "
        "NumPy reference, and print a table.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 1e3 and 1e5, few repetitions: checks the script works in a few "
        "seconds; its numbers are too rough to judge speed",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH")
    parser.add_argument(
        "--optimizer",
        nargs="+",
        choices=list(OPTIMIZERS),
        default=list(OPTIMIZERS),
        help="optimizers to time (default: all)",
    )
    parser.add_argument(
        "--dtype",
        nargs="+",
        choices=DTYPES,
        default=list(DTYPES),
        help="dtypes to time (default: both)",
    )
    parser.add_argument(
        "--size",
        nargs="+",
        type=parse_size,
        help="parameter sizes, e.g. 1e4 1e6 (default: 1e3 to 1e7, or 1e3 and 1e5 "
        "with --quick)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; return the exit status."""
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    sizes = args.size or (QUICK_SIZES if args.quick else SIZES)
    machine = machine_info()

    print(f"fastoptim {machine['fastoptim']} ({machine['fastoptim_path']})")
    print(
        f"numpy {machine['numpy']}, python {machine['python']}, {machine['platform']}"
    )
    print(
        f"cpu: {machine['cpu']}, {machine['cores']} cores "
        f"({machine['usable_cores']} usable by this process)"
    )
    print(
        f"mode: {'quick' if args.quick else 'full'}; each time is the median seconds "
        f"per step over up to {settings.max_reps} repetitions after "
        f"{settings.warmup_steps} warm-up steps; range% is (max - min) / median"
    )

    warnings = check_agreement(args.optimizer, args.dtype)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)

    print()
    header = format_row([name for name, _, _ in COLUMNS])
    print(header)
    print("-" * len(header))
    results = []
    for key in args.optimizer:
        for dtype in args.dtype:
            for size in sizes:
                result = run_case(key, dtype, size, settings)
                results.append(result)
                # Flush per row so a long run shows progress through a pipe too.
                print(table_row(result), flush=True)

    if args.json:
        report = {
            "machine": machine,
            "mode": "quick" if args.quick else "full",
            "settings": asdict(settings),
            "hyperparameters": {
                key: kwargs for key, (_, _, kwargs) in OPTIMIZERS.items()
            },
            "agreement_warnings": warnings,
            "results": [asdict(result) for result in results],
        }
        with open(args.json, "w", encoding="utf-8") as output:
            json.dump(report, output, indent=2)
            output.write("\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
