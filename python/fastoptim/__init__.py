"""fastoptim: fast, exact optimizers that update NumPy arrays in place.

>>> import numpy as np, fastoptim as fo
>>> w = np.ones(3, dtype=np.float32)
>>> opt = fo.SGD([w], lr=0.5)
>>> opt.step([np.full(3, 2.0, dtype=np.float32)])
True
>>> w
array([0., 0., 0.], dtype=float32)
"""

from . import reference, schedules
from ._core import __version__
from ._runtime import (
    BandwidthProbe,
    _check_environment,
    build_info,
    divider_rate,
    get_num_threads,
    memory_bandwidth,
    set_num_threads,
)
from .optimizers import SGD, Adam, AdamW, Momentum

__all__ = [
    "SGD",
    "BandwidthProbe",
    "Adam",
    "AdamW",
    "Momentum",
    "__version__",
    "build_info",
    "divider_rate",
    "get_num_threads",
    "memory_bandwidth",
    "reference",
    "schedules",
    "set_num_threads",
]

_check_environment()
