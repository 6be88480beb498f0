"""Constant, MultiStep, Exponential, Linear and Polynomial against torch's closed forms.

The golden values come from tests/golden/make_schedule_family.py, so no torch is
needed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import fastoptim as fo
from fastoptim import reference, schedules

GOLDEN = Path(__file__).resolve().parent / "golden" / "schedule_family.npz"
with np.load(GOLDEN, allow_pickle=False) as _data:
    DATA = {key: _data[key] for key in _data.files}
CASES = json.loads(str(DATA["cases"]))
LR = float(DATA["lr"])
CLASSES = {
    "ConstantLR": "Constant",
    "MultiStepLR": "MultiStep",
    "ExponentialLR": "Exponential",
    "LinearLR": "Linear",
    "PolynomialLR": "Polynomial",
}


@pytest.mark.parametrize("module", [schedules, reference.schedules], ids=["fo", "ref"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_torch_closed_form(module, case):
    schedule = getattr(module, CLASSES[case["torch"]])(LR, **case["arguments"])
    expected = DATA[f"{case['name']}/closed_form"]
    steps = np.arange(len(expected))

    values = schedule(steps)

    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-300)
    picked = steps[::97]
    np.testing.assert_array_equal([schedule(int(t)) for t in picked], values[::97])


def test_native_and_reference_agree_to_the_bit_where_they_share_a_formula():
    steps = np.arange(2000)
    for name, args in [
        ("Constant", {"factor": 0.3, "total_iters": 7}),
        ("MultiStep", {"milestones": [5, 9], "gamma": 0.3}),
        ("Linear", {"start_factor": 0.2, "total_iters": 99}),
        ("Polynomial", {"total_iters": 300, "power": 0.5}),
    ]:
        native = getattr(schedules, name)(0.05, **args)(steps)
        ref = getattr(reference.schedules, name)(0.05, **args)(steps)
        np.testing.assert_allclose(native, ref, rtol=1e-15, atol=1e-300, err_msg=name)


@pytest.mark.parametrize("module", [schedules, reference.schedules], ids=["fo", "ref"])
@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda m: m.Constant(0.1, factor=1.5),
            ValueError,
            r"factor must be in \[0, 1\]",
        ),
        (lambda m: m.Constant(0.1, total_iters=-1), ValueError, "total_iters must be"),
        (lambda m: m.MultiStep(0.1, 30), TypeError, "milestones must be a list"),
        (lambda m: m.MultiStep(0.1, [3, -1]), ValueError, r"milestones\[1\] must be"),
        (lambda m: m.MultiStep(0.1, [3], gamma=-1), ValueError, "gamma must be >= 0"),
        (lambda m: m.Exponential(-0.1, 0.9), ValueError, "lr must be >= 0"),
        (
            lambda m: m.Exponential(0.1, float("nan")),
            ValueError,
            "gamma must be finite",
        ),
        (lambda m: m.Linear(0.1, start_factor=0.0), ValueError, "start_factor must be"),
        (lambda m: m.Linear(0.1, end_factor=2.0), ValueError, "end_factor must be"),
        (lambda m: m.Linear(0.1, total_iters=0), ValueError, "total_iters must be > 0"),
        (
            lambda m: m.Polynomial(0.1, total_iters=2.5),
            TypeError,
            "total_iters must be",
        ),
        (lambda m: m.Polynomial(0.1, power=-1), ValueError, "power must be >= 0"),
    ],
)
def test_bad_arguments_are_refused(module, make, error, message):
    with pytest.raises(error, match=message):
        make(module)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.Constant(0.05, factor=0.5, total_iters=4),
        schedules.MultiStep(0.05, [3, 6]),
        schedules.Exponential(0.05, 0.9),
        schedules.Linear(0.05, total_iters=8),
        schedules.Polynomial(0.05, total_iters=10, power=2.0),
    ],
    ids=lambda s: type(s).__name__,
)
def test_drives_an_optimizer_and_survives_a_checkpoint(tmp_path, schedule):
    params = [np.ones(3)]
    opt = fo.SGD(params, lr=schedule, momentum=0.9)
    for _ in range(4):
        opt.step([np.full(3, 0.5)])
    opt.save(tmp_path / "opt.npz")
    resumed = [params[0].copy()]
    resumed_opt = fo.SGD(resumed, lr=1.0, momentum=0.9)
    resumed_opt.load(tmp_path / "opt.npz")
    for o in (opt, resumed_opt):
        for _ in range(8):
            o.step([np.full(3, 0.5)])

    assert type(resumed_opt.param_groups[0]["lr"]) is type(schedule)
    np.testing.assert_array_equal(resumed[0], params[0])


def test_plot_draws_the_schedule(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    schedule = schedules.Linear(0.1, start_factor=0.5, total_iters=10)

    ax = schedules.plot(schedule, 20)

    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), np.arange(20))
    np.testing.assert_array_equal(line.get_ydata(), schedule(np.arange(20)))
    ax.figure.savefig(tmp_path / "schedule.png")
    assert (tmp_path / "schedule.png").stat().st_size > 0
    other = schedules.plot(lambda t: 0.1 / (1 + t), 5, ax=ax, label="inverse")
    assert other is ax and len(ax.get_lines()) == 2
    with pytest.raises(ValueError, match="steps must be a positive int"):
        schedules.plot(schedule, 0)
