"""Schedules against their closed forms, on one step and on arrays of steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastoptim import reference, schedules

STEP_DECAYS = [
    {"lr": 0.1, "step_size": 30},
    {"lr": 1.0, "step_size": 1, "gamma": 0.5},
    {"lr": 0.05, "step_size": 7, "gamma": 0.9},
    {"lr": 2.0, "step_size": 3, "gamma": 1.0},
]
COSINES = [
    {"lr_max": 0.1, "T_max": 100},
    {"lr_max": 1.0, "T_max": 1, "lr_min": 0.0},
    {"lr_max": 0.05, "T_max": 37, "lr_min": 0.001},
    {"lr_max": 0.001, "T_max": 1000, "lr_min": 0.01},
]


def step_decay_formula(lr, step_size, gamma=0.1):
    return lambda t: lr * gamma ** (t // step_size)


def cosine_formula(lr_max, T_max, lr_min=0.0):
    return lambda t: (
        lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * t / T_max)) / 2
    )


FAMILIES = [
    pytest.param(schedules.StepDecay, step_decay_formula, args, id=f"step-decay-{n}")
    for n, args in enumerate(STEP_DECAYS)
] + [
    pytest.param(schedules.CosineAnnealing, cosine_formula, args, id=f"cosine-{n}")
    for n, args in enumerate(COSINES)
]
STEPS = np.arange(5000)


@pytest.mark.parametrize("cls, formula, args", FAMILIES)
def test_scalar_matches_closed_form(cls, formula, args):
    schedule = cls(**args)
    expected = formula(**args)
    for t in [0, 1, 2, 29, 30, 31, 99, 100, 101, 250, 4999, 10**9]:
        value = schedule(t)
        assert isinstance(value, float)
        assert value == pytest.approx(expected(t), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("cls, formula, args", FAMILIES)
def test_array_matches_scalar_and_reference(cls, formula, args):
    schedule = cls(**args)
    ref = getattr(reference.schedules, cls.__name__)(**args)
    expected = np.array([formula(**args)(int(t)) for t in STEPS])

    values = schedule(STEPS)

    assert values.dtype == np.float64 and values.shape == STEPS.shape
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(values, [schedule(int(t)) for t in STEPS])
    np.testing.assert_allclose(ref(STEPS), expected, rtol=1e-12, atol=1e-300)
    assert ref(7) == pytest.approx(schedule(7), rel=1e-15)


def test_array_keeps_shape_and_accepts_any_integer_dtype():
    schedule = schedules.StepDecay(1.0, step_size=2, gamma=0.5)
    steps = np.array([[0, 1], [2, 5]], dtype=np.uint8)
    np.testing.assert_array_equal(schedule(steps), [[1.0, 1.0], [0.5, 0.25]])
    assert schedule(np.int32(4)) == 0.25
    assert schedule(np.arange(0)).shape == (0,)
    strided = np.arange(10)[::3]
    np.testing.assert_array_equal(schedule(strided), [1.0, 0.5, 0.125, 0.0625])


def test_cosine_anneals_to_minimum_then_follows_the_formula():
    schedule = schedules.CosineAnnealing(1.0, T_max=10, lr_min=0.1)
    assert schedule(0) == 1.0
    assert schedule(10) == pytest.approx(0.1, rel=1e-15)
    assert schedule(5) == pytest.approx(0.55, rel=1e-15)
    assert schedule(15) == pytest.approx(schedule(5), rel=1e-15)
    assert schedule(20) == pytest.approx(1.0, rel=1e-15)


@pytest.mark.parametrize("module", [schedules, reference.schedules], ids=["fo", "ref"])
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda m: m.StepDecay(-0.1, 10), ValueError, "lr must be >= 0"),
        (lambda m: m.StepDecay(0.1, 0), ValueError, "step_size must be > 0"),
        (lambda m: m.StepDecay(0.1, 2.5), TypeError, "step_size must be an int"),
        (lambda m: m.StepDecay(0.1, 10, gamma=-0.5), ValueError, "gamma must be >= 0"),
        (lambda m: m.StepDecay(float("inf"), 10), ValueError, "lr must be finite"),
        (lambda m: m.CosineAnnealing(0.1, 0), ValueError, "T_max must be > 0"),
        (lambda m: m.CosineAnnealing(0.1, -5), ValueError, "T_max must be > 0"),
        (lambda m: m.CosineAnnealing(0.1, True), TypeError, "T_max must be an int"),
        (lambda m: m.CosineAnnealing(-1.0, 10), ValueError, "lr_max must be >= 0"),
        (lambda m: m.CosineAnnealing(0.1, 10, lr_min=-1), ValueError, "lr_min must be"),
    ],
)
def test_bad_arguments_are_refused(module, make, error, message):
    with pytest.raises(error, match=message):
        make(module)


@pytest.mark.parametrize("module", [schedules, reference.schedules], ids=["fo", "ref"])
@pytest.mark.parametrize(
    "step, error, message",
    [
        (-1, ValueError, "step must be >= 0"),
        (1.0, TypeError, "step must be an int"),
        (True, TypeError, "step must be an int"),
        (np.array([0, -3]), ValueError, "steps must be >= 0"),
        (np.array([0.0, 1.0]), TypeError, "steps must be an integer array"),
    ],
)
def test_bad_steps_are_refused(module, step, error, message):
    with pytest.raises(error, match=message):
        module.CosineAnnealing(0.1, 10)(step)


def test_repr_names_the_settings():
    assert (
        repr(schedules.StepDecay(0.1, 5)) == "StepDecay(lr=0.1, step_size=5, gamma=0.1)"
    )
    assert "T_max=10" in repr(schedules.CosineAnnealing(0.1, 10))
