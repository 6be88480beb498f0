"""Threads, instruction sets and the memory probe: what concerns the machine."""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._checks import check_positive_int


def set_num_threads(threads: int) -> None:
    """Use this many threads, the caller's included, for every optimizer step.

    The default is the number of cores the process may use, or the value of the
    ``FASTOPTIM_NUM_THREADS`` environment variable at import. Results are the same
    bits whatever the count. Steps too small to gain from threads stay on one.
    """
    _core.set_num_threads(check_positive_int("threads", threads))


def get_num_threads() -> int:
    """The number of threads a step may use."""
    return int(_core.get_num_threads())


def build_info() -> dict[str, Any]:
    """How this fastoptim was built and how it runs here.

    ``isa`` is the instruction set whose kernels are in use (the best the CPU
    supports, unless ``FASTOPTIM_ISA`` names a lower one); ``supported_isas`` lists
    every one built in that this CPU can run. ``prefetch`` says whether the kernels
    ask for data ahead of the hardware prefetchers: it made an Intel Xeon stream
    Adam's arrays faster and an AMD EPYC slower, so it is on except on AMD CPUs,
    unless ``FASTOPTIM_PREFETCH`` is 0 or 1. The results are the same bits either
    way.
    """
    return {
        "version": _core.__version__,
        "isa": _core.isa(),
        "supported_isas": list(_core.supported_isas()),
        "num_threads": get_num_threads(),
        "available_cores": int(_core.available_cores()),
        "parallel_threshold_ns": int(_core.parallel_threshold()),
        "prefetch": bool(_core.prefetching()),
        "compiler": _core.compiler,
        "eigen": _core.eigen_version,
    }


def memory_bandwidth(megabytes: int = 512, repeats: int = 5) -> float:
    """Measure the memory bandwidth, in bytes per second, the way a step uses it.

    Streams the accesses of an Adam step, three float32 arrays updated in place and
    a fourth read (28 bytes an element), over ``megabytes`` in all, with the current
    thread count, and returns the best of ``repeats`` runs, as STREAM does. The
    arrays must be well beyond the last-level cache: 512 MB is, on most machines;
    where the cache comes near that, ask for more. Divided by an optimizer's bytes
    per parameter, it bounds the optimizer's speed on large arrays.
    """
    size = check_positive_int("megabytes", megabytes) * 1 << 20
    return float(_core.memory_bandwidth(size, check_positive_int("repeats", repeats)))


class BandwidthProbe:
    """The stream of :func:`memory_bandwidth`, kept to be read between other work.

    Allocates the probe's arrays, ``megabytes`` in all, once; each :meth:`measure`
    streams them once with the current thread count and returns the bytes per
    second. Where the bandwidth a machine gives drifts with what its neighbours do,
    a benchmark that reads the probe between its own timings compares each with
    the bandwidth of its moment.
    """

    def __init__(self, megabytes: int = 512) -> None:
        size = check_positive_int("megabytes", megabytes) * 1 << 20
        self._probe = _core.BandwidthProbe(size)

    @property
    def megabytes(self) -> int:
        return int(self._probe.bytes) >> 20

    def measure(self) -> float:
        """Bytes per second of one pass over the probe's arrays."""
        return float(self._probe.run())


def divider_rate(dtype: npt.DTypeLike = np.float32, repeats: int = 5) -> float:
    """Measure how many elements per second one core takes through Adam's divider.

    Times ``x / (sqrt(x) + 1)``, one exactly rounded square root and one exactly
    rounded division per element, over arrays in cache, on the calling thread, with
    the kernels in use, and returns the best of ``repeats`` runs in elements per
    second. An Adam step rounded as torch.optim rounds it does at least this much
    arithmetic per parameter, on hardware where only the divider rounds both
    exactly, so on arrays in cache ``size / (rate * threads)`` bounds its time.
    """
    name = np.dtype(dtype).name
    if name not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {name}")
    return float(_core.divider_rate(name, check_positive_int("repeats", repeats)))


def _check_environment() -> None:
    """Say so when an environment setting could not be followed."""
    requested = os.environ.get("FASTOPTIM_ISA")
    if requested and requested != _core.isa():
        warnings.warn(
            f"FASTOPTIM_ISA={requested} is not supported here (supported: "
            f"{', '.join(_core.supported_isas())}); using {_core.isa()}",
            RuntimeWarning,
            stacklevel=3,
        )
    prefetch = os.environ.get("FASTOPTIM_PREFETCH")
    if prefetch and prefetch not in ("0", "1"):
        warnings.warn(
            f"FASTOPTIM_PREFETCH={prefetch} is neither 0 nor 1; prefetching is "
            f"{'on' if _core.prefetching() else 'off'}",
            RuntimeWarning,
            stacklevel=3,
        )
    threads = os.environ.get("FASTOPTIM_NUM_THREADS")
    if threads and not (threads.isdigit() and 1 <= int(threads) <= 1024):
        warnings.warn(
            f"FASTOPTIM_NUM_THREADS={threads} is not a thread count from 1 to 1024; "
            f"using {get_num_threads()}",
            RuntimeWarning,
            stacklevel=3,
        )
