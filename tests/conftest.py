"""Shared pieces of the tests: the optimizer cases and a deterministic problem."""

from __future__ import annotations

import numpy as np
import pytest

import fastoptim as fo
from fastoptim import reference

# (name, native class, reference class, hyperparameters); ids say what each covers.
CASES = [
    ("sgd", fo.SGD, reference.SGD, {"lr": 0.05}),
    ("sgd-momentum", fo.SGD, reference.SGD, {"lr": 0.05, "momentum": 0.9}),
    (
        "sgd-dampening",
        fo.SGD,
        reference.SGD,
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    ),
    (
        "sgd-nesterov",
        fo.SGD,
        reference.SGD,
        {"lr": 0.05, "momentum": 0.9, "nesterov": True},
    ),
    ("sgd-weight-decay", fo.SGD, reference.SGD, {"lr": 0.05, "weight_decay": 0.1}),
    ("sgd-maximize", fo.SGD, reference.SGD, {"lr": 0.05, "maximize": True}),
    (
        "sgd-all",
        fo.SGD,
        reference.SGD,
        {
            "lr": 0.05,
            "momentum": 0.8,
            "nesterov": True,
            "weight_decay": 0.01,
            "maximize": True,
        },
    ),
    ("momentum", fo.Momentum, reference.Momentum, {"lr": 0.05}),
    ("momentum-gamma", fo.Momentum, reference.Momentum, {"lr": 0.05, "gamma": 0.5}),
    (
        "momentum-nesterov",
        fo.Momentum,
        reference.Momentum,
        {"lr": 0.05, "nesterov": True},
    ),
    ("adam", fo.Adam, reference.Adam, {"lr": 0.01}),
    ("adam-weight-decay", fo.Adam, reference.Adam, {"lr": 0.01, "weight_decay": 0.1}),
    ("adam-amsgrad", fo.Adam, reference.Adam, {"lr": 0.01, "amsgrad": True}),
    ("adam-maximize", fo.Adam, reference.Adam, {"lr": 0.01, "maximize": True}),
    ("adam-small-beta1", fo.Adam, reference.Adam, {"lr": 0.01, "betas": (0.3, 0.9)}),
    ("adam-eps", fo.Adam, reference.Adam, {"lr": 0.01, "eps": 1e-3}),
    ("adamw", fo.AdamW, reference.AdamW, {"lr": 0.01}),
    (
        "adamw-amsgrad",
        fo.AdamW,
        reference.AdamW,
        {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True},
    ),
    ("adamw-maximize", fo.AdamW, reference.AdamW, {"lr": 0.01, "maximize": True}),
]

DTYPES = [np.float32, np.float64]

# Shapes that cover a scalar, an empty array, a size that is not a multiple of any
# SIMD width and one that spans several of the kernels' blocks.
SHAPES = [(7, 5), (3,), (), (0,), (2500,)]


def case_params(cases=CASES):
    return pytest.mark.parametrize(
        "native, ref, hyper",
        [pytest.param(n, r, h, id=name) for name, n, r, h in cases],
    )


dtype_params = pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])


def make_params(dtype, shapes=SHAPES, seed=0):
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(shape), dtype=dtype) for shape in shapes]


def gradients(params):
    """The gradient of sum(p**2 / 2 - 2 cos p): a smooth, non-convex problem."""
    return [np.asarray(p + 2 * np.sin(p), dtype=p.dtype) for p in params]
