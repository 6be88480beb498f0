"""fastoptim: fast, exact optimizers that update NumPy arrays in place.

>>> import numpy as np, fastoptim as fo
>>> w = np.ones(3, dtype=np.float32)
>>> opt = fo.SGD([w], lr=0.5)
>>> opt.step([np.full(3, 2.0, dtype=np.float32)])
>>> w
array([0., 0., 0.], dtype=float32)
"""

from . import reference, schedules
from ._core import __version__
from .optimizers import SGD, Adam, AdamW, Momentum

__all__ = ["SGD", "Momentum", "Adam", "AdamW", "schedules", "reference", "__version__"]
