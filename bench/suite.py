"""Benchmark suite: fastoptim against its NumPy reference, torch.optim and memory speed.

Run from anywhere, after ``fastoptim`` is installed::

    python bench/suite.py            # every case, ten minutes or so on 2 cores
    python bench/suite.py --quick    # a small subset in a few seconds

In one run it times ``step()`` of SGD, SGD with momentum, Momentum, Adam and AdamW
with fastoptim, with ``fastoptim.reference`` and, when torch is installed, with
torch.optim in its three forms (``foreach=False``, ``foreach=True``, ``fused=True``),
on single arrays of 1e3 to 6.4e7 parameters and on the parameter lists of a ResNet-50
and of a GPT-2 small, in float32 and float64, on one thread and on all of them. It
also measures the memory bandwidth, which bounds any optimizer that streams its
arrays once per step: the bound in parameters per second is the bandwidth divided by
the bytes each parameter moves.

It prints a table and a table of the team's targets, and writes every repetition to
a JSON file and, when matplotlib is installed, a plot of parameters per second
against size to a PNG. Each figure is the median over timed repetitions after a
warm-up; ratios are formed within the run. Nothing here fails on a slow result.
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
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import fastoptim
import fastoptim.reference


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer as timed: its names, hyperparameters and memory traffic."""

    label: str
    # The class name in fastoptim and fastoptim.reference.
    class_name: str
    kwargs: dict[str, Any]
    # The torch.optim class running the same update, or None when torch has none.
    torch_class: str | None
    # Bytes read and written per float32 parameter by one step that streams every
    # array once: 4 per array read plus 4 per array written.
    bytes_float32: int


OPTIMIZERS: dict[str, OptimizerSpec] = {
    # Reads theta and g, writes theta.
    "sgd": OptimizerSpec("SGD", "SGD", {"lr": 1e-2}, "SGD", 12),
    # Reads theta, g and the buffer, writes theta and the buffer.
    "sgd-momentum": OptimizerSpec(
        "SGD+momentum", "SGD", {"lr": 1e-2, "momentum": 0.9}, "SGD", 20
    ),
    # torch's SGD keeps the learning rate out of the buffer, so no torch class runs
    # this update and comparing against one would compare different algorithms.
    "momentum": OptimizerSpec(
        "Momentum", "Momentum", {"lr": 1e-2, "gamma": 0.9}, None, 20
    ),
    # Reads theta, g, m and v, writes theta, m and v.
    "adam": OptimizerSpec("Adam", "Adam", {"lr": 1e-3}, "Adam", 28),
    "adamw": OptimizerSpec(
        "AdamW", "AdamW", {"lr": 1e-3, "weight_decay": 1e-2}, "AdamW", 28
    ),
}

DTYPES = ("float32", "float64")
SHORT_DTYPES = {"float32": "f32", "float64": "f64"}

# The implementations in table order; the torch ones map to the option they pass.
IMPLEMENTATIONS = (
    "fastoptim",
    "reference",
    "torch_forloop",
    "torch_foreach",
    "torch_fused",
)
BASELINES = IMPLEMENTATIONS[1:]
TORCH_OPTIONS: dict[str, dict[str, bool]] = {
    "torch_forloop": {"foreach": False},
    "torch_foreach": {"foreach": True},
    "torch_fused": {"fused": True},
}

# Small gradients keep the parameters finite and away from subnormals however many
# steps the batches add up to; the arrays are shared by every implementation, so
# they drift through thousands of steps of each.
GRADIENT_SCALE = 1e-3

# Above this share of the machine used by other processes, a case's figures on all
# threads are flagged: one busy core already stalls every two-thread step.
BUSY_SHARE = 0.1

RESNET50_ARRAYS = 161
RESNET50_PARAMS = 25_557_032
GPT2_SMALL_ARRAYS = 148
GPT2_SMALL_PARAMS = 124_439_808


@dataclass(frozen=True)
class Case:
    """The shapes of the parameters stepped together by one optimizer."""

    name: str
    description: str
    shapes: tuple[tuple[int, ...], ...]

    @property
    def params(self) -> int:
        return sum(math.prod(shape) for shape in self.shapes)

    @property
    def arrays(self) -> int:
        return len(self.shapes)


def format_size(size: int) -> str:
    """Write 16000000 as 1.6e7 and 1000 as 1e3: sizes read faster that way."""
    mantissa, exponent = f"{size:.1e}".split("e")
    if float(mantissa) * 10 ** int(exponent) != size:
        return str(size)
    return f"{mantissa.removesuffix('.0')}e{int(exponent)}"


def single_array(size: int) -> Case:
    return Case(format_size(size), f"one array of {size:,} parameters", ((size,),))


def resnet50_shapes() -> list[tuple[int, ...]]:
    """The trainable parameters of torchvision's resnet50, in registration order.

    Bottleneck blocks in four stages of 3, 4, 6 and 3; every convolution is
    bias-free and followed by a batch norm with a weight and a bias; the first block
    of each stage has a projection shortcut (a 1x1 convolution and a batch norm).
    """
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    in_channels = 64
    for width, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        out_channels = 4 * width
        for block in range(blocks):
            shapes += [(width, in_channels, 1, 1), (width,), (width,)]
            shapes += [(width, width, 3, 3), (width,), (width,)]
            shapes += [(out_channels, width, 1, 1), (out_channels,), (out_channels,)]
            if block == 0:
                shapes += [(out_channels, in_channels, 1, 1)]
                shapes += [(out_channels,), (out_channels,)]
            in_channels = out_channels
    shapes += [(1000, 2048), (1000,)]
    return shapes


def gpt2_shapes(
    layers: int = 12, width: int = 768, vocabulary: int = 50257, context: int = 1024
) -> list[tuple[int, ...]]:
    """The trainable parameters of a GPT-2 transformer (the defaults: GPT-2 small).

    Token and position embeddings; per layer a layer norm, the fused query-key-value
    matrix, the attention output projection, a second layer norm and the two MLP
    matrices, each matrix with its bias; a final layer norm. The output head shares
    the token embedding, so it adds no array.
    """
    shapes: list[tuple[int, ...]] = [(vocabulary, width), (context, width)]
    for _ in range(layers):
        shapes += [(width,), (width,)]
        shapes += [(3 * width, width), (3 * width,)]
        shapes += [(width, width), (width,)]
        shapes += [(width,), (width,)]
        shapes += [(4 * width, width), (4 * width,)]
        shapes += [(width, 4 * width), (width,)]
    shapes += [(width,), (width,)]
    return shapes


def build_cases(quick: bool) -> list[Case]:
    """The cases of a full run, or the few of a quick one."""
    resnet50 = Case(
        "resnet50",
        "ResNet-50 parameter list (161 arrays, 25.6M parameters)",
        tuple(resnet50_shapes()),
    )
    gpt2 = Case(
        "gpt2",
        "GPT-2 small parameter list (148 arrays, 124M parameters)",
        tuple(gpt2_shapes()),
    )
    # A mistake in either generator would silently time a different model.
    assert resnet50.arrays == RESNET50_ARRAYS, resnet50.arrays
    assert resnet50.params == RESNET50_PARAMS, resnet50.params
    assert gpt2.arrays == GPT2_SMALL_ARRAYS, gpt2.arrays
    assert gpt2.params == GPT2_SMALL_PARAMS, gpt2.params

    if quick:
        tiny = gpt2_shapes(layers=2, width=64, vocabulary=512, context=64)
        return [
            single_array(10_000),
            single_array(100_000),
            Case(
                "gpt2-tiny",
                f"2-layer GPT-2 of width 64 ({len(tiny)} arrays)",
                tuple(tiny),
            ),
        ]
    sizes = (1_000, 10_000, 100_000, 1_000_000, 16_000_000, 64_000_000)
    return [single_array(size) for size in sizes] + [resnet50, gpt2]


@dataclass(frozen=True)
class Settings:
    """How hard to time each measurement.

    A repetition runs a batch of steps lasting at least ``min_rep_seconds``, so that
    the timer's resolution and the loop around the steps stay small next to the
    figure. ``budget_seconds`` caps the repetitions of one measurement, which gives
    the big cases fewer of them; ``min_reps`` are taken regardless. The reference
    is not timed on cases above ``reference_max_params`` parameters, where one of
    its steps takes seconds. The bandwidth probe streams ``bandwidth_megabytes``,
    or ``bandwidth_cache_multiple`` times the last-level cache where that is more.

    On more than one thread, each turn of a round starts after ``settle_seconds``
    of sleep. Idle worker threads poll for a while before they sleep: torch's
    OpenMP workers used 10 ms of CPU in the 20 ms after a fused Adam step on a
    2-core machine, and fastoptim's 2-thread step at 1e6, timed right after,
    took 2.5 times as long as after a sleep, its second thread waiting for a core.
    """

    warmup_steps: int
    min_reps: int
    max_reps: int
    min_rep_seconds: float
    budget_seconds: float
    reference_max_params: int
    bandwidth_megabytes: int
    bandwidth_cache_multiple: int
    bandwidth_repeats: int
    settle_seconds: float


FULL = Settings(
    warmup_steps=2,
    min_reps=3,
    max_reps=9,
    min_rep_seconds=0.02,
    budget_seconds=0.4,
    reference_max_params=64_000_000,
    bandwidth_megabytes=512,
    bandwidth_cache_multiple=4,
    bandwidth_repeats=5,
    settle_seconds=0.02,
)
QUICK = Settings(
    warmup_steps=2,
    min_reps=3,
    max_reps=3,
    min_rep_seconds=0.001,
    budget_seconds=0.01,
    reference_max_params=64_000_000,
    bandwidth_megabytes=512,
    bandwidth_cache_multiple=0,
    bandwidth_repeats=2,
    settle_seconds=0.0,
)


@dataclass
class Measurement:
    """Seconds per step of one implementation on one case, or why there are none.

    ``status`` is "ok", "n/a" (the implementation cannot run this case) or "skipped"
    (it could, but this run did not time it). ``spread`` is half the range of the
    repetitions over their median, which the table shows as a plus-or-minus.
    """

    status: str
    reason: str | None = None
    median: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    spread: float | None = None
    batch: int | None = None
    per_rep: list[float] = field(default_factory=list)


def seconds_per_call(
    step: Callable[[], Any], warmup_calls: int, rep_seconds: float
) -> float:
    """Seconds per call of ``step``, from warm-up calls in doubling batches.

    A single call's time is a poor guide to a small step's: the first ones after
    other work find cold caches and sleeping threads, and one of 30 us sized the
    batches of a 4 us step eight times too short. The batches double until one
    lasts a quarter of ``rep_seconds``, after at least ``warmup_calls`` calls in all.
    """
    calls = 1
    made = 0
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            step()
        elapsed = time.perf_counter() - start
        made += calls
        if elapsed >= rep_seconds / 4 and made >= warmup_calls:
            return max(elapsed / calls, 1e-9)
        calls *= 2


def time_interleaved(
    steps: dict[str, Callable[[], Any]],
    settings: Settings,
    probe: Callable[[], float] | None = None,
    settle_seconds: float = 0.0,
) -> tuple[dict[str, Measurement], list[float]]:
    """Time each step after a warm-up, in rounds that take one batch of each.

    A shared machine's speed drifts from one second to the next (its memory
    bandwidth by a factor of two), so the implementations compared on a line take
    turns: each round times one batch of every step, in an order that rotates from
    round to round, and ``probe``, when given, reads the memory bandwidth once in
    each round as well. Repetition ``i`` of every measurement comes from round
    ``i``, and the readings of the probe are returned in round order. Each turn
    starts after ``settle_seconds`` of sleep, in which the threads of the turn
    before stop polling for work.

    Each step has already been called once, which allocated and touched its
    optimizer state; the warm-up calls after it size each step's batch, which runs
    at least ``min_rep_seconds``.
    """
    warmup_calls = settings.warmup_steps - 1
    single = {
        name: seconds_per_call(step, warmup_calls, settings.min_rep_seconds)
        for name, step in steps.items()
    }
    batches = {
        name: max(1, math.ceil(settings.min_rep_seconds / seconds))
        for name, seconds in single.items()
    }
    round_seconds = sum(batches[name] * single[name] for name in steps)
    affordable = int(settings.budget_seconds * len(steps) / max(round_seconds, 1e-9))
    reps = max(settings.min_reps, min(settings.max_reps, affordable))

    turns: list[str | None] = [*steps, *([None] if probe is not None else [])]
    per_rep: dict[str, list[float]] = {name: [] for name in steps}
    readings: list[float] = []
    # A collection pass landing inside one repetition would be noise that belongs to
    # no implementation.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for round_number in range(reps):
            shift = round_number % len(turns)
            for name in turns[shift:] + turns[:shift]:
                if settle_seconds:
                    time.sleep(settle_seconds)
                if name is None:
                    assert probe is not None
                    readings.append(probe())
                    continue
                step, batch = steps[name], batches[name]
                start = time.perf_counter()
                for _ in range(batch):
                    step()
                per_rep[name].append((time.perf_counter() - start) / batch)
    finally:
        if gc_was_enabled:
            gc.enable()

    measurements = {}
    for name, times in per_rep.items():
        median = statistics.median(times)
        measurements[name] = Measurement(
            status="ok",
            median=median,
            minimum=min(times),
            maximum=max(times),
            spread=(max(times) - min(times)) / (2 * median),
            batch=batches[name],
            per_rep=times,
        )
    return measurements, readings


class Progress:
    """A progress bar on stderr, weighted by the expected cost of each measurement.

    On a terminal it redraws one line in place; into a pipe or a file it writes a
    line per tenth of the run, so logs show progress without a flood of redraws.
    """

    def __init__(self, total: float, stream: Any = sys.stderr) -> None:
        self.total = max(total, 1e-9)
        self.done = 0.0
        self.stream = stream
        self.interactive = hasattr(stream, "isatty") and stream.isatty()
        self.started = time.perf_counter()
        self.last_draw = -math.inf
        self.last_tenth = -1

    def advance(self, weight: float, label: str) -> None:
        self.done = min(self.total, self.done + weight)
        self._draw(label)

    def show(self, label: str) -> None:
        """Name what is being timed now, before its cost is added."""
        self._draw(label)

    def _draw(self, label: str) -> None:
        fraction = self.done / self.total
        elapsed = time.perf_counter() - self.started
        minutes, seconds = divmod(int(elapsed), 60)
        if self.interactive:
            # Redrawing more often than this costs time and shows nothing new.
            if time.perf_counter() - self.last_draw < 0.1 and fraction < 1:
                return
            self.last_draw = time.perf_counter()
            filled = int(30 * fraction)
            bar = "#" * filled + "." * (30 - filled)
            line = f"[{bar}] {100 * fraction:3.0f}% {minutes}:{seconds:02d} {label}"
            self.stream.write("\r" + line[:79].ljust(79))
        else:
            tenth = int(10 * fraction)
            if tenth <= self.last_tenth:
                return
            self.last_tenth = tenth
            self.stream.write(
                f"progress: {100 * fraction:3.0f}% after {minutes}:{seconds:02d}\n"
            )
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()


@dataclass
class Row:
    """One line of the table: one optimizer on one case, dtype and thread count."""

    case: str
    optimizer: str
    label: str
    dtype: str
    threads: int
    params: int
    arrays: int
    # Parameters per second that the measured bandwidth allows; None without it.
    bound: float | None
    timings: dict[str, Measurement]
    # Baseline median / fastoptim median: how many times faster fastoptim ran.
    ratios: dict[str, float | None]
    params_per_second: float | None
    fraction_of_bound: float | None
    # Share of all CPUs that other processes used while this case was timed in this
    # dtype; None where the system does not tell or the time was too short.
    other_load: float | None = None
    # Bytes per second the bandwidth probe read in each round of the timings, for
    # the cases that stream far more than the last-level cache; else empty.
    probe_readings: list[float] = field(default_factory=list)


def cpu_ticks() -> tuple[int, int] | None:
    """Busy and total clock ticks of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user, nice, system, idle, iowait, irq, softirq, steal; the guest fields that
    # follow are already counted in user.
    ticks = [int(value) for value in fields[1:9]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class LoadMeter:
    """The share of the machine that other processes took since it was made.

    On a 2-core machine another busy process leaves a two-thread step waiting for
    the scheduler, which inflates the figures on all threads many times over, so
    the suite measures this rather than leaving a reader to guess.
    """

    def __init__(self) -> None:
        self.start_ticks = cpu_ticks()
        self.start_own = own_cpu_seconds()

    def other_share(self) -> float | None:
        end_ticks = cpu_ticks()
        if self.start_ticks is None or end_ticks is None:
            return None
        busy = end_ticks[0] - self.start_ticks[0]
        total = end_ticks[1] - self.start_ticks[1]
        ticks_per_second = os.sysconf("SC_CLK_TCK")
        # Both counts advance in whole ticks, so over less than a second of every
        # CPU their rounding alone can read as a busy neighbour.
        if total < ticks_per_second * (os.cpu_count() or 1):
            return None
        own = (own_cpu_seconds() - self.start_own) * ticks_per_second
        return min(1.0, max(0.0, (busy - own) / total))


class Environment:
    """What this installation offers: fastoptim's threads and probe, and torch.

    A fastoptim without ``set_num_threads`` or ``memory_bandwidth`` is still timed:
    on one thread, and without the bound, as the notes then say.
    """

    def __init__(self, use_torch: bool) -> None:
        self.notes: list[str] = []
        self.set_threads = getattr(fastoptim, "set_num_threads", None)
        self.get_threads = getattr(fastoptim, "get_num_threads", None)
        self.bandwidth_probe = getattr(fastoptim, "memory_bandwidth", None)
        self.divider_probe = getattr(fastoptim, "divider_rate", None)
        self._probe: Any = None
        build_info = getattr(fastoptim, "build_info", None)
        self.build_info: dict[str, Any] = dict(build_info()) if build_info else {}

        self.usable_cores = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
        if self.set_threads is None:
            self.thread_counts = [1]
            self.notes.append(
                "fastoptim has no set_num_threads: every implementation is timed on "
                "1 thread"
            )
        else:
            self.thread_counts = sorted({1, self.usable_cores})
        self.initial_threads = self.get_threads() if self.get_threads else None
        if self.bandwidth_probe is None:
            self.notes.append(
                "fastoptim has no memory_bandwidth: the bound and the fraction of it "
                "are n/a"
            )

        self.torch: Any = None
        self.torch_initial_threads: int | None = None
        # What the torch columns hold when torch is not used, and why.
        self.torch_status = "skipped"
        self.torch_reason = "--no-torch was given"
        if use_torch:
            try:
                import torch
            except ImportError:
                self.torch_status = "n/a"
                self.torch_reason = "torch is not installed"
            else:
                self.torch = torch
                self.torch_initial_threads = torch.get_num_threads()
        if self.torch is None:
            self.notes.append(f"{self.torch_reason}: the torch columns hold no figures")

    def use_threads(self, threads: int) -> None:
        """Give fastoptim and torch the same number of threads."""
        if self.set_threads is not None:
            self.set_threads(threads)
        if self.torch is not None:
            self.torch.set_num_threads(threads)

    def restore_threads(self) -> None:
        if self.set_threads is not None and self.initial_threads is not None:
            self.set_threads(self.initial_threads)
        if self.torch is not None and self.torch_initial_threads is not None:
            self.torch.set_num_threads(self.torch_initial_threads)

    def measure_bandwidth(self, settings: Settings) -> dict[int, float | None]:
        """Bytes per second of fastoptim's streaming probe at each thread count."""
        if self.bandwidth_probe is None:
            return dict.fromkeys(self.thread_counts)
        bandwidth: dict[int, float | None] = {}
        for threads in self.thread_counts:
            self.use_threads(threads)
            bandwidth[threads] = float(
                self.bandwidth_probe(
                    megabytes=probe_megabytes(settings),
                    repeats=settings.bandwidth_repeats,
                )
            )
        return bandwidth

    def probe(self, settings: Settings) -> Any | None:
        """The bandwidth probe that rounds of timings read, made on first use."""
        make = getattr(fastoptim, "BandwidthProbe", None)
        if make is None:
            return None
        if self._probe is None:
            self._probe = make(megabytes=probe_megabytes(settings))
        return self._probe

    def measure_divider(
        self, dtypes: Sequence[str], settings: Settings
    ) -> dict[str, float | None]:
        """Elements per second one core takes through Adam's exact divisions."""
        if self.divider_probe is None:
            return dict.fromkeys(dtypes)
        return {
            dtype: float(self.divider_probe(dtype, repeats=settings.bandwidth_repeats))
            for dtype in dtypes
        }


def bytes_per_param(key: str, dtype: str) -> int:
    return OPTIMIZERS[key].bytes_float32 * np.dtype(dtype).itemsize // 4


def allocate(case: Case, dtype: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Random parameters and fixed gradients for ``case``, one array per shape.

    Each parameter gets its own allocation, as in a model, rather than a view into
    one buffer, so alignment and the walk over many arrays are those of real use.
    """
    # One seed per case and dtype so that reruns and subsets time identical data.
    rng = np.random.default_rng([case.params, case.arrays, DTYPES.index(dtype)])
    params = [rng.standard_normal(shape, dtype=dtype) for shape in case.shapes]
    grads = []
    for shape in case.shapes:
        grad = rng.standard_normal(shape, dtype=dtype)
        grad *= GRADIENT_SCALE
        grads.append(grad)
    return params, grads


def numpy_stepper(
    module: Any, key: str, params: list[np.ndarray], grads: list[np.ndarray]
) -> Callable[[], None]:
    """A step of fastoptim's or the reference's optimizer ``key`` over ``params``."""
    spec = OPTIMIZERS[key]
    optimizer = getattr(module, spec.class_name)(params, **spec.kwargs)
    return lambda: optimizer.step(grads)


def torch_stepper(
    torch: Any,
    key: str,
    implementation: str,
    params: list[np.ndarray],
    grads: list[np.ndarray],
) -> Callable[[], Any]:
    """A step of torch.optim over tensors that share memory with ``params``."""
    spec = OPTIMIZERS[key]
    tensors = [torch.from_numpy(param) for param in params]
    # Set once: the gradient stays fixed, as it does for the other implementations.
    for tensor, grad in zip(tensors, grads):
        tensor.grad = torch.from_numpy(grad)
    optimizer = getattr(torch.optim, spec.torch_class)(
        tensors, **spec.kwargs, **TORCH_OPTIONS[implementation]
    )
    return optimizer.step


def first_line(error: BaseException) -> str:
    """The exception's type and the first line of its message, for a note."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def build_step(
    make_step: Callable[[], Callable[[], Any]], *, may_fail: bool
) -> Callable[[], Any] | Measurement:
    """Build a stepper and take its first step, which allocates its state.

    With ``may_fail``, an exception while building or taking the first step makes
    the measurement n/a, returned in place of the stepper: torch refuses options
    that its build or a dtype lacks, which only means that column has no figure.
    fastoptim failing is a bug, so there the exception propagates.
    """
    try:
        step = make_step()
        step()
    except Exception as error:
        if not may_fail:
            raise
        return Measurement(status="n/a", reason=first_line(error)[:200])
    return step


def measurement_weight(case: Case, implementation: str) -> float:
    """Rough seconds one measurement takes, for the progress bar only.

    A small case costs about the timing budget; a large one a few steps, each about
    a memory stream over the case. The reference makes temporaries for most
    operations and runs several times slower than the others on large arrays.
    """
    per_param = 5e-8 if implementation == "reference" else 1.5e-8
    return 0.25 + per_param * case.params


def planned(
    cases: Sequence[Case], keys: Sequence[str], dtypes: Sequence[str], env: Environment
) -> float:
    """The total weight of the measurements ``run`` will take."""
    total = 0.0
    for case in cases:
        for key in keys:
            total += len(dtypes) * len(env.thread_counts) * row_weight(case, key, env)
    return total


def row_weight(case: Case, key: str, env: Environment) -> float:
    """The weight of one line's measurements, taken together in rounds."""
    names = ["fastoptim", "reference"]
    if OPTIMIZERS[key].torch_class is not None and env.torch is not None:
        names += TORCH_OPTIONS
    return sum(measurement_weight(case, name) for name in names)


def torch_step(
    key: str,
    implementation: str,
    params: list[np.ndarray],
    grads: list[np.ndarray],
    env: Environment,
) -> Callable[[], Any] | Measurement:
    """One torch.optim form of optimizer ``key``, or why there is no figure."""
    if env.torch is None:
        return Measurement(status=env.torch_status, reason=env.torch_reason)
    torch_class = OPTIMIZERS[key].torch_class
    if torch_class is None:
        return Measurement(
            status="n/a", reason=f"torch.optim has no {OPTIMIZERS[key].label}"
        )
    return build_step(
        partial(torch_stepper, env.torch, key, implementation, params, grads),
        may_fail=True,
    )


def paired_ratio(theirs: Measurement, ours: Measurement) -> float | None:
    """The median of the baseline's time over fastoptim's, round by round.

    Repetitions taken in the same rounds pair up, and each pair saw the machine in
    the same state; measurements taken apart compare as the ratio of their medians.
    """
    if theirs.median is None or ours.median is None:
        return None
    if theirs.per_rep and len(theirs.per_rep) == len(ours.per_rep):
        return statistics.median(
            their_time / our_time
            for their_time, our_time in zip(theirs.per_rep, ours.per_rep)
        )
    return theirs.median / ours.median


def make_row(
    case: Case,
    key: str,
    dtype: str,
    threads: int,
    timings: dict[str, Measurement],
    probe_readings: list[float] | None = None,
) -> Row:
    """Put the timings of one line together with the ratios formed from them."""
    ours = timings["fastoptim"].median
    assert ours is not None
    ratios = {
        name: paired_ratio(timings[name], timings["fastoptim"]) for name in BASELINES
    }
    return Row(
        case=case.name,
        optimizer=key,
        label=OPTIMIZERS[key].label,
        dtype=dtype,
        threads=threads,
        params=case.params,
        arrays=case.arrays,
        bound=None,
        timings=timings,
        ratios=ratios,
        params_per_second=case.params / ours,
        fraction_of_bound=None,
        probe_readings=probe_readings or [],
    )


def apply_bounds(rows: Sequence[Row], bandwidth: dict[int, float | None]) -> None:
    """Fill in each row's bound and fastoptim's fraction of it.

    A line whose rounds read the probe takes its bound from those readings, and
    its fraction round by round; any other from the run's ``bandwidth``.
    """
    for row in rows:
        per_param = bytes_per_param(row.optimizer, row.dtype)
        ours = row.timings["fastoptim"].per_rep
        if row.probe_readings and len(row.probe_readings) == len(ours):
            row.bound = statistics.median(row.probe_readings) / per_param
            row.fraction_of_bound = statistics.median(
                row.params / seconds / (reading / per_param)
                for seconds, reading in zip(ours, row.probe_readings)
            )
            continue
        rate = bandwidth.get(row.threads)
        if rate is None or row.params_per_second is None:
            continue
        row.bound = rate / per_param
        row.fraction_of_bound = row.params_per_second / row.bound


def run(
    cases: Sequence[Case],
    keys: Sequence[str],
    dtypes: Sequence[str],
    env: Environment,
    settings: Settings,
    progress: Progress,
) -> tuple[list[Row], list[str]]:
    """Time every implementation on every case; return the rows and any warnings.

    The arrays of a case are allocated once per dtype and shared by every optimizer
    and implementation: stepping them in place only drifts their values, and it
    keeps the largest case within a few gigabytes.
    """
    rows: list[Row] = []
    warnings: list[str] = []
    for case in cases:
        probe = env.probe(settings) if streams_memory(case, keys, dtypes) else None
        for dtype in dtypes:
            where = f"{case.name} {SHORT_DTYPES[dtype]}"
            progress.show(f"{where}: allocating")
            params, grads = allocate(case, dtype)
            large = case.params >= 1_000_000
            load = LoadMeter()
            first_row = len(rows)
            for key in keys:
                spec = OPTIMIZERS[key]
                progress.show(f"{where} {spec.label}: building the optimizers")
                steps: dict[str, Callable[[], Any] | Measurement] = {
                    "fastoptim": build_step(
                        partial(numpy_stepper, fastoptim, key, params, grads),
                        may_fail=False,
                    )
                }
                if case.params > settings.reference_max_params:
                    steps["reference"] = Measurement(
                        status="skipped",
                        reason=f"above {settings.reference_max_params:,} parameters",
                    )
                else:
                    steps["reference"] = build_step(
                        partial(numpy_stepper, fastoptim.reference, key, params, grads),
                        may_fail=False,
                    )
                for name in TORCH_OPTIONS:
                    steps[name] = torch_step(key, name, params, grads, env)
                runnable = {
                    name: step
                    for name, step in steps.items()
                    if not isinstance(step, Measurement)
                }

                for threads in env.thread_counts:
                    env.use_threads(threads)
                    label = f"{where} {spec.label} {threads}t"
                    progress.show(label)
                    timed, readings = time_interleaved(
                        runnable,
                        settings,
                        None if probe is None else probe.measure,
                        settings.settle_seconds if threads > 1 else 0.0,
                    )
                    timings = {
                        name: step if isinstance(step, Measurement) else timed[name]
                        for name, step in steps.items()
                    }
                    rows.append(make_row(case, key, dtype, threads, timings, readings))
                    progress.advance(row_weight(case, key, env), label)
                # Some torch optimizers keep their state alive through reference
                # cycles, and a few sets of a large case's would fill the memory; a
                # collection costs too much time to make after every small case.
                del steps, runnable
                if large:
                    gc.collect()

            other_load = load.other_share()
            for row in rows[first_row:]:
                row.other_load = other_load
            if not all(np.all(np.isfinite(param)) for param in params):
                warnings.append(
                    f"{where}: the parameters became non-finite; timings of this case "
                    "may not be typical"
                )
            # Free this case's arrays before the next one allocates its own.
            del params, grads
            gc.collect()
    return rows, warnings


def check_agreement(
    keys: Sequence[str], dtypes: Sequence[str], env: Environment
) -> list[str]:
    """Return a warning for each optimizer whose steps disagree with the reference.

    A kernel that updated a temporary copy, or split the work among threads wrongly,
    would time fast and be wrong, so before trusting the table make sure a few steps
    move the caller's array to where the reference puts it, on every thread count.
    The size is no multiple of a SIMD width and large enough to be split.
    """
    warnings = []
    size = 100_003
    for key in keys:
        spec = OPTIMIZERS[key]
        for dtype in dtypes:
            rng = np.random.default_rng(0)
            initial = rng.standard_normal(size, dtype=dtype)
            grads = [rng.standard_normal(size, dtype=dtype)]
            expected = [initial.copy()]
            reference = getattr(fastoptim.reference, spec.class_name)
            optimizer = reference(expected, **spec.kwargs)
            for _ in range(3):
                optimizer.step(grads)

            for threads in env.thread_counts:
                env.use_threads(threads)
                params = [initial.copy()]
                optimizer = getattr(fastoptim, spec.class_name)(params, **spec.kwargs)
                for _ in range(3):
                    optimizer.step(grads)
                where = f"{spec.label} {dtype} on {threads} thread(s)"
                # Loose enough for a different but sound order of operations; a lost
                # or wrong update is off by the size of a step, far above this.
                tolerance = 1e-4 if dtype == "float32" else 1e-9
                if np.array_equal(params[0], initial):
                    warnings.append(f"{where}: fastoptim left the parameters unchanged")
                elif not np.allclose(
                    params[0], expected[0], rtol=tolerance, atol=tolerance
                ):
                    error = np.max(np.abs(params[0].astype(np.float64) - expected[0]))
                    warnings.append(
                        f"{where}: fastoptim differs from the reference after 3 steps "
                        f"(max abs difference {error:.3g})"
                    )
    return warnings


# The implementations that stream each array once per step, as the bound assumes:
# their parameters per second turn into bytes per second actually moved.
SINGLE_PASS = ("fastoptim", "torch_fused")

# Adam's update takes an exactly rounded square root and division per parameter.
DIVIDING = ("adam", "adamw")


def least_step_seconds(
    row: Row,
    rows: Sequence[Row],
    bandwidth: dict[int, float | None],
    divider: dict[str, float | None],
) -> float | None:
    """The least time a step of the row's case could take here, as this run saw.

    Memory: the bytes the step must move, at the fastest rate at which anything in
    this run streamed on as many threads over as many parameters or more: the
    bandwidth probe, or an implementation that streams once per step. Arithmetic,
    for Adam and AdamW: one exact square root and division per parameter at the
    rate ``fastoptim.divider_rate`` measured, the threads sharing them perfectly.
    The larger of the two; None when neither was measured.
    """
    rates = [bandwidth.get(row.threads)]
    for other in rows:
        if other.threads != row.threads or other.params < row.params:
            continue
        moved = other.params * bytes_per_param(other.optimizer, other.dtype)
        for name in SINGLE_PASS:
            median = other.timings[name].median
            if median:
                rates.append(moved / median)
    floors = []
    measured = [rate for rate in rates if rate]
    if measured:
        floors.append(
            row.params * bytes_per_param(row.optimizer, row.dtype) / max(measured)
        )
    rate = divider.get(row.dtype)
    if rate and row.optimizer in DIVIDING:
        floors.append(row.params / (rate * row.threads))
    return max(floors) if floors else None


def least_step_seconds_by_round(
    row: Row, divider: dict[str, float | None]
) -> list[float] | None:
    """The least time a step of the row could take in each of its rounds.

    For a row whose rounds read the bandwidth probe: the bytes of a step at the
    fastest rate streamed in that round, by the probe or by an implementation of
    the row that streams once per step, and for Adam and AdamW no less than the
    divider's floor. A baseline's time over these, round by round, tells how much
    room the bus left it at that moment; a ratio taken against the bandwidth of
    another moment says little where the bandwidth drifts. None for other rows.
    """
    rounds = len(row.probe_readings)
    if not rounds:
        return None
    moved = row.params * bytes_per_param(row.optimizer, row.dtype)
    streams = [
        row.timings[name].per_rep
        for name in SINGLE_PASS
        if len(row.timings[name].per_rep) == rounds
    ]
    rate = divider.get(row.dtype)
    divisions = (
        row.params / (rate * row.threads) if rate and row.optimizer in DIVIDING else 0.0
    )
    return [
        max(
            moved / max([reading] + [moved / times[index] for times in streams]),
            divisions,
        )
        for index, reading in enumerate(row.probe_readings)
    ]


@dataclass
class Target:
    """One of the team's goals, with the figure this run measured for it.

    ``ceiling`` is the best figure this run shows possible for the same row: for a
    time, the least step time; for a ratio, the baseline's time over that least
    time (see ``least_step_seconds``); None for the fraction of the bound, which is
    its own ceiling. A goal past the ceiling is out of reach on this machine.
    """

    optimizer: str
    name: str
    # "fraction_of_bound", "seconds_per_step" or "x <baseline>".
    metric: str
    value: float | None
    goal: float
    # True when the goal is an upper limit (a time), False for a lower one.
    below: bool
    # The row the value comes from, or why there is none.
    where: str
    ceiling: float | None = None
    met: bool | None = None
    within_reach: bool | None = None

    def __post_init__(self) -> None:
        if self.value is not None:
            self.met = self.reaches(self.value)
        if self.ceiling is not None:
            self.within_reach = self.reaches(self.ceiling)

    def reaches(self, figure: float) -> bool:
        return figure < self.goal if self.below else figure >= self.goal


def row_value(row: Row, metric: str) -> float | None:
    if metric == "fraction_of_bound":
        return row.fraction_of_bound
    if metric == "seconds_per_step":
        return row.timings["fastoptim"].median
    return row.ratios[metric.removeprefix("x ")]


def ceiling_of(
    row: Row,
    metric: str,
    least_seconds: Callable[[Row], float | None],
    least_by_round: Callable[[Row], list[float] | None] = lambda row: None,
) -> float | None:
    """The best figure of the metric that the row's least step time allows.

    A ratio to a baseline timed in the row's rounds is the median over the rounds
    of its time over the least time of the same round, where the row has those.
    """
    if metric == "fraction_of_bound":
        return None
    baseline = metric.removeprefix("x ")
    theirs = None if metric == "seconds_per_step" else row.timings[baseline]
    by_round = least_by_round(row)
    if theirs is not None and by_round and len(theirs.per_rep) == len(by_round):
        return statistics.median(
            seconds / least for seconds, least in zip(theirs.per_rep, by_round)
        )
    least = least_seconds(row)
    if least is None:
        return None
    if theirs is None:
        return least
    return None if theirs.median is None else theirs.median / least


def compute_targets(
    rows: Sequence[Row],
    keys: Sequence[str],
    threads: int,
    least_seconds: Callable[[Row], float | None] = lambda row: None,
    least_by_round: Callable[[Row], list[float] | None] = lambda row: None,
) -> list[Target]:
    """The team's headline goals, each read from this run's rows.

    Each is for float32 on all threads, the default use, except the ratio to the
    reference: that one is the worst single array of 1e5 parameters or more, over
    both dtypes, since the goal is for every size from there on. ``least_seconds``
    gives a row's least possible step time, from which each target's ceiling comes,
    and ``least_by_round`` the same round by round for the rows that have it.
    """
    by_key = {(row.case, row.optimizer, row.dtype, row.threads): row for row in rows}

    def at(key: str, case: str, name: str, metric: str, goal: float) -> Target:
        row = by_key.get((case, key, "float32", threads))
        where = f"{case} f32 {threads}t"
        value = None if row is None else row_value(row, metric)
        if value is None:
            where += " not timed" if row is None else " has no figure"
        below = metric == "seconds_per_step"
        ceiling = (
            None
            if row is None
            else ceiling_of(row, metric, least_seconds, least_by_round)
        )
        return Target(
            OPTIMIZERS[key].label, name, metric, value, goal, below, where, ceiling
        )

    def worst_against_reference(key: str) -> Target:
        candidates = [
            row
            for row in rows
            if row.optimizer == key
            and row.threads == threads
            and row.arrays == 1
            and row.params >= 100_000
            and row.ratios["reference"] is not None
        ]
        name = "x reference, worst array >= 1e5"
        if not candidates:
            where = "no array >= 1e5 with the reference"
            return Target(
                OPTIMIZERS[key].label, name, "x reference", None, 20.0, False, where
            )
        worst = min(candidates, key=lambda row: row.ratios["reference"] or math.inf)
        where = f"{worst.case} {SHORT_DTYPES[worst.dtype]} {threads}t"
        value = worst.ratios["reference"]
        ceiling = ceiling_of(worst, "x reference", least_seconds, least_by_round)
        return Target(
            OPTIMIZERS[key].label,
            name,
            "x reference",
            value,
            20.0,
            False,
            where,
            ceiling,
        )

    targets = []
    for key in keys:
        if key == "sgd-momentum":
            targets.append(
                at(key, "1.6e7", "fraction of bound at 1.6e7", "fraction_of_bound", 0.9)
            )
        if key == "adam":
            targets += [
                at(
                    key, "1.6e7", "fraction of bound at 1.6e7", "fraction_of_bound", 0.9
                ),
                at(key, "1.6e7", "x torch fused at 1.6e7", "x torch_fused", 1.25),
                at(key, "1e4", "time per step at 1e4", "seconds_per_step", 5e-6),
                at(key, "1e4", "x torch fused at 1e4", "x torch_fused", 20.0),
                at(key, "resnet50", "x torch fused on resnet50", "x torch_fused", 1.3),
            ]
        targets.append(worst_against_reference(key))
    return targets


def format_seconds(seconds: float) -> str:
    """Three significant digits with the unit that keeps them before the point."""
    # Rounded first, so that 999.7 us reads 1 ms and not 1e+03 us.
    seconds = float(f"{seconds:.3g}")
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds / 1e-9:.3g}ns"


def format_rate(per_second: float) -> str:
    """A count per second with an SI prefix."""
    per_second = float(f"{per_second:.3g}")
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if per_second >= scale:
            return f"{per_second / scale:.3g}{prefix}"
    return f"{per_second:.3g}"


def format_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "n/a"
    return f"{ratio:.0f}x" if ratio >= 100 else f"{ratio:.3g}x"


def format_time(measurement: Measurement) -> str:
    """Median and spread in one cell without spaces, so a row splits into cells."""
    if measurement.status != "ok":
        return "n/a" if measurement.status == "n/a" else "-"
    assert measurement.median is not None and measurement.spread is not None
    percent = 100 * measurement.spread
    spread = f"{percent:.0f}" if percent < 99.5 else "99+"
    return f"{format_seconds(measurement.median)}±{spread}%"


def format_bytes_rate(per_second: float | None) -> str:
    return "n/a" if per_second is None else f"{per_second / 1e9:.1f} GB/s"


# Column groups of the table: a title over (header, width, alignment) columns.
TABLE_GROUPS: tuple[tuple[str, tuple[tuple[str, int, str], ...]], ...] = (
    ("", (("optimizer", 12, "<"), ("dtype", 5, "<"), ("thr", 3, ">"))),
    ("fastoptim", (("time", 11, ">"), ("params/s", 8, ">"), ("bound", 5, ">"))),
    ("reference", (("time", 11, ">"), ("x", 7, ">"))),
    ("torch foreach=False", (("time", 11, ">"), ("x", 7, ">"))),
    ("torch foreach=True", (("time", 11, ">"), ("x", 7, ">"))),
    ("torch fused=True", (("time", 11, ">"), ("x", 7, ">"))),
)


def format_cells(groups: Sequence[Sequence[str]]) -> str:
    """Lay out one cell per column, grouped as in TABLE_GROUPS."""
    parts = []
    for cells, (_, columns) in zip(groups, TABLE_GROUPS):
        parts.append(
            " ".join(
                f"{cell:{align}{width}}"
                for cell, (_, width, align) in zip(cells, columns)
            )
        )
    return "  ".join(parts).rstrip()


def table_header() -> list[str]:
    titles = []
    for title, columns in TABLE_GROUPS:
        width = sum(width for _, width, _ in columns) + len(columns) - 1
        titles.append(f"{title:<{width}}")
    header = format_cells(
        [[name for name, _, _ in columns] for _, columns in TABLE_GROUPS]
    )
    return ["  ".join(titles).rstrip(), header, "-" * len(header)]


def table_row(row: Row) -> str:
    fastoptim_time = row.timings["fastoptim"]
    fraction = row.fraction_of_bound
    cells = [
        [row.label, SHORT_DTYPES[row.dtype], str(row.threads)],
        [
            format_time(fastoptim_time),
            format_rate(row.params_per_second or 0.0),
            "n/a" if fraction is None else f"{fraction:.2f}",
        ],
    ]
    for name in BASELINES:
        measurement = row.timings[name]
        ratio = format_ratio(row.ratios[name])
        if measurement.status != "ok":
            ratio = format_time(measurement)
        cells.append([format_time(measurement), ratio])
    return format_cells(cells)


def format_table(rows: Sequence[Row], cases: Sequence[Case]) -> list[str]:
    """One section per case, its rows in optimizer, dtype and thread order."""
    lines = []
    for case in cases:
        section = [row for row in rows if row.case == case.name]
        if not section:
            continue
        title = f"{case.name}: {case.description}"
        loads = [row.other_load for row in section if row.other_load is not None]
        if loads:
            title += f"; other processes used up to {max(loads):.0%} of the CPUs"
        lines += [title, *table_header()]
        lines += [table_row(row) for row in section]
        lines.append("")
    return lines


def format_target_value(target: Target, value: float) -> str:
    if target.metric == "fraction_of_bound":
        return f"{value:.2f}"
    if target.metric == "seconds_per_step":
        return format_seconds(value)
    return format_ratio(value)


def format_targets(targets: Sequence[Target]) -> list[str]:
    columns = (
        ("optimizer", 12),
        ("target", 32),
        ("measured", 8),
        ("goal", 8),
        ("ceiling", 8),
        ("met", 12),
    )
    header = "  ".join(f"{name:<{width}}" for name, width in columns) + "  from"
    lines = [header, "-" * len(header)]
    for target in targets:
        measured = (
            "n/a" if target.value is None else format_target_value(target, target.value)
        )
        sign = "<" if target.below else ">="
        goal = f"{sign} {format_target_value(target, target.goal)}"
        ceiling = (
            "-"
            if target.ceiling is None
            else format_target_value(target, target.ceiling)
        )
        met = {True: "yes", False: "no", None: "n/a"}[target.met]
        if target.met is False and target.within_reach is False:
            met = "out of reach"
        cells = (target.optimizer, target.name, measured, goal, ceiling, met)
        line = "  ".join(f"{cell:<{width}}" for cell, (_, width) in zip(cells, columns))
        lines.append(f"{line}  {target.where}")
    return lines


# Colours of the implementations in the plot, from matplotlib's default cycle.
PLOT_STYLES = {
    "fastoptim": "tab:blue",
    "reference": "tab:gray",
    "torch_forloop": "tab:orange",
    "torch_foreach": "tab:green",
    "torch_fused": "tab:red",
}
PLOT_LABELS = {
    "fastoptim": "fastoptim",
    "reference": "NumPy reference",
    "torch_forloop": "torch foreach=False",
    "torch_foreach": "torch foreach=True",
    "torch_fused": "torch fused=True",
}
LIST_MARKERS = ("D", "*", "P", "X")


def plot(
    rows: Sequence[Row],
    cases: Sequence[Case],
    keys: Sequence[str],
    dtypes: Sequence[str],
    bandwidths: dict[int, float | None],
    divider: dict[str, float | None],
    path: Path,
) -> None:
    """Plot parameters per second against size, one panel per optimizer and dtype.

    Lines join the single arrays; the parameter lists are lone markers at their
    total size. The bars span the fastest and slowest repetitions. The horizontal
    lines are the memory bandwidth bounds and, for Adam, the divider's: the second
    roof, which arrays in cache meet instead of the first.
    """
    import matplotlib

    # Render to a file without needing a display.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullFormatter

    most = max(bandwidths)
    list_cases = [case for case in cases if case.arrays > 1]
    markers = dict(zip((case.name for case in list_cases), LIST_MARKERS))
    figure, axes = plt.subplots(
        len(dtypes),
        len(keys),
        figsize=(3.6 * len(keys) + 1, 3.2 * len(dtypes) + 1.2),
        squeeze=False,
        sharex=True,
    )
    for dtype_axes, dtype in zip(axes, dtypes):
        for axis, key in zip(dtype_axes, keys):
            panel = [row for row in rows if row.optimizer == key and row.dtype == dtype]
            lines = [("fastoptim", most, "-")]
            if most > 1:
                lines.append(("fastoptim", 1, "--"))
            lines += [(name, most, "-") for name in BASELINES]
            for name, count, style in lines:
                draw(axis, panel, name, count, style, markers)
            for count, style in ((most, "-"), (1, ":")):
                bounds = [row.bound for row in panel if row.threads == count]
                if bounds and bounds[0] is not None:
                    axis.axhline(bounds[0], color="black", linestyle=style, lw=1)
                if count == 1:
                    break
            rate = divider.get(dtype)
            if rate and key in DIVIDING:
                axis.axhline(rate * most, color="purple", linestyle="-.", lw=1)
            axis.set_xscale("log")
            axis.set_yscale("log")
            # Labels like 1G and 1e6 stay short enough for small panels; the minor
            # ticks of a log axis would crowd them.
            axis.yaxis.set_major_formatter(FuncFormatter(lambda y, _: format_rate(y)))
            axis.yaxis.set_minor_formatter(NullFormatter())
            axis.xaxis.set_major_formatter(
                FuncFormatter(lambda x, _: format_size(round(x)))
            )
            axis.grid(True, which="major", alpha=0.3)
            axis.set_title(f"{OPTIMIZERS[key].label}, {dtype}", fontsize=10)
            if axis is dtype_axes[0]:
                axis.set_ylabel("parameters per second")
            if dtype == dtypes[-1]:
                axis.set_xlabel("parameters")

    handles = [
        Line2D([], [], color=PLOT_STYLES[name], marker="o", label=PLOT_LABELS[name])
        for name in IMPLEMENTATIONS
    ]
    if most > 1:
        handles.append(
            Line2D(
                [],
                [],
                color=PLOT_STYLES["fastoptim"],
                linestyle="--",
                label="fastoptim, 1 thread",
            )
        )
    handles.append(
        Line2D([], [], color="black", label=f"bandwidth bound, {most} thread(s)")
    )
    if most > 1:
        handles.append(
            Line2D(
                [], [], color="black", linestyle=":", label="bandwidth bound, 1 thread"
            )
        )
    if any(divider.values()) and any(key in DIVIDING for key in keys):
        handles.append(
            Line2D(
                [],
                [],
                color="purple",
                linestyle="-.",
                label=f"divider bound (Adam), {most} thread(s)",
            )
        )
    handles += [
        Line2D(
            [],
            [],
            color="gray",
            marker=markers[case.name],
            linestyle="none",
            label=f"{case.name} list",
        )
        for case in list_cases
    ]
    figure.legend(
        handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False
    )
    bandwidth = ", ".join(
        format_bytes_rate(rate) for rate in bandwidths.values() if rate is not None
    )
    figure.suptitle(
        f"step() throughput on {most} thread(s) unless marked; median of the "
        "repetitions, bars from slowest to fastest; bound = bandwidth "
        f"({bandwidth or 'n/a'}) / bytes per parameter",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0.08, 1, 0.97))
    figure.savefig(path, dpi=100)
    plt.close(figure)


def draw(
    axis: Any,
    panel: Sequence[Row],
    name: str,
    threads: int,
    style: str,
    markers: dict[str, str],
) -> None:
    """Draw one implementation's throughput on one panel: a line and lone markers."""
    points = [
        row
        for row in panel
        if row.threads == threads and row.timings[name].status == "ok"
    ]
    for single in (True, False):
        chosen = [row for row in points if (row.arrays == 1) == single]
        if not chosen:
            continue
        chosen.sort(key=lambda row: row.params)
        sizes = np.array([row.params for row in chosen], dtype=float)
        medians = np.array([row.timings[name].median for row in chosen], dtype=float)
        slowest = np.array([row.timings[name].maximum for row in chosen], dtype=float)
        fastest = np.array([row.timings[name].minimum for row in chosen], dtype=float)
        rate = sizes / medians
        errors = np.vstack([rate - sizes / slowest, sizes / fastest - rate])
        if single:
            axis.errorbar(
                sizes,
                rate,
                yerr=errors,
                color=PLOT_STYLES[name],
                linestyle=style,
                marker="o",
                markersize=3,
                capsize=2,
                lw=1,
            )
            continue
        for row, size, value, error in zip(chosen, sizes, rate, errors.T):
            axis.errorbar(
                [size],
                [value],
                yerr=error.reshape(2, 1),
                color=PLOT_STYLES[name],
                marker=markers.get(row.case, "D"),
                markersize=6 if style == "-" else 4,
                capsize=2,
                linestyle="none",
                fillstyle="full" if style == "-" else "none",
            )


def best_bandwidth(
    start: dict[int, float | None], end: dict[int, float | None]
) -> dict[int, float | None]:
    """The higher of two probes at each thread count: load only ever lowers one."""
    best: dict[int, float | None] = {}
    for threads, first in start.items():
        readings = [rate for rate in (first, end.get(threads)) if rate is not None]
        best[threads] = max(readings) if readings else None
    return best


def bandwidth_warnings(
    rows: Sequence[Row], probes: dict[str, dict[int, float | None]]
) -> list[str]:
    """Say when the bound itself looks wrong, so no one chases a false result."""
    warnings = []
    start, end = probes["start"], probes.get("end", {})
    for threads, first in start.items():
        last = end.get(threads)
        if (
            first is not None
            and last is not None
            and max(first, last) > 1.2 * min(first, last)
        ):
            warnings.append(
                f"the bandwidth probe on {threads} thread(s) read "
                f"{format_bytes_rate(first)} before the timings and "
                f"{format_bytes_rate(last)} after; the bound uses the higher"
            )
    # Far beyond the last-level cache, streaming faster than the probe means the
    # probe read low: it was disturbed, or its two streams draw less from memory
    # than a kernel with four or five. Smaller cases may sit in that cache, which
    # some servers make hundreds of megabytes, and pass the bound honestly.
    faster = [
        row.fraction_of_bound
        for row in rows
        if beyond_cache(row.params * bytes_per_param(row.optimizer, row.dtype))
        and (row.fraction_of_bound or 0.0) > 1.1
    ]
    if faster:
        warnings.append(
            f"fastoptim passed the bandwidth bound by more than 10% (up to "
            f"{max(faster):.2f} of it) on cases moving over twice the last-level "
            "cache per step: the probe read lower than what a step can stream"
        )
    return warnings


def beyond_cache(bytes_moved: int) -> bool:
    """Whether a step moving this much streams from memory, not from a cache.

    Twice the last-level cache, or 128 MiB where its size is unknown.
    """
    return bytes_moved > 2 * (last_level_cache_bytes() or 64 * 2**20)


def streams_memory(case: Case, keys: Sequence[str], dtypes: Sequence[str]) -> bool:
    """Whether every line of the case streams from memory, where the bound holds."""
    least = min(bytes_per_param(key, dtype) for key in keys for dtype in dtypes)
    return beyond_cache(case.params * least)


def probe_megabytes(settings: Settings) -> int:
    """The bandwidth probe's size: the settings' megabytes, or more on a big cache.

    Servers with caches of hundreds of megabytes would otherwise keep part of the
    probe's arrays in cache and read a bandwidth the memory does not have.
    """
    cache = last_level_cache_bytes() or 0
    return max(
        settings.bandwidth_megabytes, settings.bandwidth_cache_multiple * cache >> 20
    )


def last_level_cache_bytes() -> int | None:
    """The size of the largest CPU cache, from Linux's sysfs; None elsewhere."""
    largest = None
    for index in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            text = (index / "size").read_text(encoding="ascii").strip()
        except OSError:
            continue
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        scale = units.get(text[-1:], 1)
        digits = text[:-1] if text[-1:] in units else text
        if digits.isdigit():
            size = int(digits) * scale
            largest = size if largest is None else max(largest, size)
    return largest


def describe_bounds(
    bandwidth: dict[int, float | None],
    divider: dict[str, float | None],
    keys: Sequence[str],
    dtypes: Sequence[str],
    settings: Settings,
    quick: bool,
) -> list[str]:
    """The lines above the tables: bandwidth, bounds and how to read the figures."""
    rates = ", ".join(
        f"{format_bytes_rate(rate)} on {threads} thread(s)"
        for threads, rate in bandwidth.items()
    )
    per_param = ", ".join(
        f"{OPTIMIZERS[key].label} {OPTIMIZERS[key].bytes_float32}" for key in keys
    )
    lines = [
        f"memory bandwidth (fastoptim.memory_bandwidth over "
        f"{probe_megabytes(settings)} MB, best of two probes): {rates}",
        f"bytes per parameter per step (float32; float64 doubles them): {per_param}",
    ]
    for threads, rate in bandwidth.items():
        if rate is None:
            continue
        bounds = {key: rate / bytes_per_param(key, dtypes[0]) for key in keys}
        listed = ", ".join(
            f"{OPTIMIZERS[key].label} {format_rate(bound)}"
            for key, bound in bounds.items()
        )
        lines.append(f"bound on {threads} thread(s), {dtypes[0]}, params/s: {listed}")
    rates = ", ".join(
        f"{dtype} {format_rate(rate)}" for dtype, rate in divider.items() if rate
    )
    if rates and any(key in DIVIDING for key in keys):
        lines.append(
            "exact square root and division (fastoptim.divider_rate, one thread), "
            f"elements/s: {rates}"
        )
    reps = (
        f"{settings.min_reps}"
        if settings.min_reps == settings.max_reps
        else f"{settings.min_reps} to {settings.max_reps}"
    )
    lines += [
        f"mode {'quick' if quick else 'full'}: each time is the median step over "
        f"{reps} repetitions after warm-up batches that size them, ± half their "
        "range; a row's implementations take turns, one repetition each a round;",
        "x = baseline time / fastoptim time, the median over the rounds (above 1: "
        "fastoptim is faster); bound = fastoptim's fraction of the bandwidth bound, "
        "read each round where the case streams from memory",
    ]
    return lines


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo, or what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def peak_memory_bytes() -> int | None:
    """The largest resident size this process reached, where the system tells."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux counts kilobytes, macOS bytes.
    return peak if sys.platform == "darwin" else peak * 1024


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    all_cases = [case.name for case in build_cases(False) + build_cases(True)]
    results = Path(__file__).resolve().parent / "results"
    parser = argparse.ArgumentParser(
        description="Time fastoptim against its NumPy reference, torch.optim and the "
        "memory bandwidth bound; print a table, write a JSON file and a PNG plot.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small subset in a few seconds, to check the suite works; its "
        "numbers are too rough to judge",
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        type=Path,
        help=f"where to write the results (default: {results}/suite.json, or "
        "suite-quick.json with --quick)",
    )
    parser.add_argument(
        "--png",
        metavar="PATH",
        type=Path,
        help="where to write the plot (default: beside the JSON file, ending .png)",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="do not time torch even if installed"
    )
    parser.add_argument(
        "--optimizer", nargs="+", choices=list(OPTIMIZERS), help="default: all"
    )
    parser.add_argument("--dtype", nargs="+", choices=DTYPES, help="default: both")
    parser.add_argument(
        "--case",
        nargs="+",
        choices=list(dict.fromkeys(all_cases)),
        help="default: every case of the mode",
    )
    args = parser.parse_args(argv)
    if args.json is None:
        args.json = results / ("suite-quick.json" if args.quick else "suite.json")
    if args.png is None:
        args.png = args.json.with_suffix(".png")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite, print its tables and write its files; return the exit status."""
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    every_case = {case.name: case for case in build_cases(False) + build_cases(True)}
    cases = (
        [every_case[name] for name in args.case]
        if args.case
        else build_cases(args.quick)
    )
    keys = args.optimizer or list(OPTIMIZERS)
    dtypes = args.dtype or list(DTYPES)
    env = Environment(use_torch=not args.no_torch)
    most = max(env.thread_counts)
    started = time.time()

    build = ", ".join(
        f"{key} {'/'.join(map(str, value)) if isinstance(value, list) else value}"
        for key, value in env.build_info.items()
    )
    print(f"fastoptim {fastoptim.__version__} ({Path(fastoptim.__file__).parent})")
    if build:
        print(f"build: {build}")
    torch_version = env.torch.__version__ if env.torch is not None else None
    torch_text = f"torch {torch_version}" if torch_version else env.torch_reason
    print(
        f"numpy {np.__version__}, {torch_text}, python {platform.python_version()}, "
        f"{platform.platform()}"
    )
    cache = last_level_cache_bytes()
    cache_text = "" if cache is None else f", last-level cache {cache / 2**20:.0f} MiB"
    print(
        f"cpu: {cpu_model()}, {os.cpu_count()} cores ({env.usable_cores} usable)"
        f"{cache_text}; threads timed: {', '.join(map(str, env.thread_counts))}"
    )

    warnings = check_agreement(keys, dtypes, env)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print()

    # The probe runs before and after the timings and the better reading is kept:
    # a neighbour busy during one probe would otherwise lower every bound.
    probes = {"start": env.measure_bandwidth(settings)}
    divider = env.measure_divider(dtypes, settings)
    progress = Progress(planned(cases, keys, dtypes, env))
    try:
        rows, run_warnings = run(cases, keys, dtypes, env, settings, progress)
        probes["end"] = env.measure_bandwidth(settings)
    finally:
        progress.close()
        env.restore_threads()
    bandwidth = best_bandwidth(probes["start"], probes["end"])
    apply_bounds(rows, bandwidth)
    found = run_warnings + bandwidth_warnings(rows, probes)
    for warning in found:
        print(f"warning: {warning}", file=sys.stderr)
    warnings += found

    for line in describe_bounds(bandwidth, divider, keys, dtypes, settings, args.quick):
        print(line)
    print()
    for line in format_table(rows, cases):
        print(line)
    targets = compute_targets(
        rows,
        keys,
        most,
        partial(least_step_seconds, rows=rows, bandwidth=bandwidth, divider=divider),
        partial(least_step_seconds_by_round, divider=divider),
    )
    print(f"targets (float32, {most} thread(s); informational, never a failure)")
    for line in format_targets(targets):
        print(line)
    print(
        "ceiling: the figure of a step as short as this run shows possible: its bytes "
        "at the fastest rate anything\nstreamed here on as many threads over as many "
        "parameters or more (on cases streaming from memory,\nin the same round), its "
        "divisions (Adam) at the divider's rate; out of reach: even the ceiling\n"
        "misses the goal"
    )
    print()

    notes = list(env.notes)
    if any(row.timings["reference"].status == "skipped" for row in rows):
        notes.append(
            f"the reference is not timed above {settings.reference_max_params:,} "
            "parameters"
        )
    if most > 1:
        notes.append(
            "the reference (NumPy) runs on one thread whatever the setting: each "
            "thread count's row times it again, in the same rounds as the others"
        )
    notes.append(
        "the bound is for arrays in main memory: a case whose arrays fit in a cache "
        "can pass it"
    )
    busy = sorted(
        {row.case for row in rows if (row.other_load or 0.0) > BUSY_SHARE},
        key=[case.name for case in cases].index,
    )
    if busy:
        warnings.append(
            f"other processes used more than {BUSY_SHARE:.0%} of the CPUs while "
            f"timing {', '.join(busy)}: the figures on {most} threads there may be "
            "inflated many times; rerun on a quiet machine"
        )
        print(f"warning: {warnings[-1]}", file=sys.stderr)

    args.json.parent.mkdir(parents=True, exist_ok=True)
    png: Path | None = None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        notes.append(
            "matplotlib is not installed, so no PNG was written "
            "(pip install matplotlib)"
        )
    else:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        plot(rows, cases, keys, dtypes, bandwidth, divider, args.png)
        png = args.png
    for note in notes:
        print(f"note: {note}")
    for warning in warnings:
        print(f"warning: {warning}")

    report = {
        "suite": "fastoptim benchmark suite",
        "mode": "quick" if args.quick else "full",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "seconds": time.time() - started,
        "peak_memory_bytes": peak_memory_bytes(),
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "usable_cores": env.usable_cores,
            "last_level_cache_bytes": cache,
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch_version,
        },
        "fastoptim": {
            "version": fastoptim.__version__,
            "path": str(Path(fastoptim.__file__).parent),
            "build_info": env.build_info,
            "has_set_num_threads": env.set_threads is not None,
            "has_memory_bandwidth": env.bandwidth_probe is not None,
            "has_divider_rate": env.divider_probe is not None,
        },
        "settings": asdict(settings),
        "threads": env.thread_counts,
        "bandwidth_probe_megabytes": probe_megabytes(settings),
        "bandwidth_bytes_per_second": {str(t): bw for t, bw in bandwidth.items()},
        "bandwidth_probes": {
            when: {str(t): bw for t, bw in probe.items()}
            for when, probe in probes.items()
        },
        "divider_elements_per_second": divider,
        "bytes_per_param": {
            key: {dtype: bytes_per_param(key, dtype) for dtype in DTYPES}
            for key in keys
        },
        "hyperparameters": {key: OPTIMIZERS[key].kwargs for key in keys},
        "cases": [
            {
                "name": case.name,
                "description": case.description,
                "arrays": case.arrays,
                "params": case.params,
            }
            for case in cases
        ],
        "results": [asdict(row) for row in rows],
        "targets": [asdict(target) for target in targets],
        "notes": notes,
        "warnings": warnings,
        "png": None if png is None else str(png),
    }
    with open(args.json, "w", encoding="utf-8") as output:
        json.dump(report, output, indent=1)
        output.write("\n")
    print(f"wrote {args.json}")
    if png is not None:
        print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
