"""The schedules beyond StepDecay and CosineAnnealing, against torch.

Constant, MultiStep, Exponential, Linear and Polynomial against torch's closed
forms; CosineWarmRestarts, OneCycle, Warmup and Sequential against the rates torch
sets step by step. The golden values come from tests/golden/make_schedule_family.py,
so no torch is needed here.
"""

from __future__ import annotations

import gc
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
STEPPED = json.loads(str(DATA["stepped_cases"]))
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


def build(module, spec):
    """A schedule of ``module`` from a golden case's description, parts included."""

    def setting(value):
        if isinstance(value, dict):
            return build(module, value)
        if isinstance(value, list):
            return [setting(item) for item in value]
        return value

    settings = {name: setting(value) for name, value in spec["settings"].items()}
    return getattr(module, spec["schedule"])(**settings)


@pytest.mark.parametrize("module", [schedules, reference.schedules], ids=["fo", "ref"])
@pytest.mark.parametrize("case", STEPPED, ids=[c["name"] for c in STEPPED])
def test_matches_torch_stepped(module, case):
    schedule = build(module, case["schedule"])
    stepped = DATA[f"{case['name']}/stepped"]
    closed_form = DATA.get(f"{case['name']}/closed_form")
    steps = np.arange(len(stepped))

    values = schedule(steps)

    if closed_form is None:
        np.testing.assert_allclose(values, stepped, rtol=1e-12, atol=1e-300)
    else:
        # Composed: each part follows its closed form, which torch's SequentialLR,
        # stepping each scheduler by its recursive form, drifts from.
        np.testing.assert_allclose(values, closed_form, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(values, stepped, rtol=1e-10, atol=1e-300)
    picked = steps[::89]
    np.testing.assert_array_equal([schedule(int(t)) for t in picked], values[::89])


@pytest.mark.parametrize("module", [schedules, reference.schedules], ids=["fo", "ref"])
def test_warm_restart_lands_where_torch_step_by_step_puts_it(module):
    # Periods of 1, 3, 9, 27 and 81 steps end at step 120; torch's step(epoch) form
    # computes log_3(243) = 4.999... and puts step 121 at the end of the old period.
    schedule = module.CosineWarmRestarts(0.1, T_0=1, T_mult=3, lr_min=0.001)

    assert schedule(121) == 0.1
    assert schedule(120) < 0.0011
    assert DATA["warm-restarts-mult3/stepped"][121] == 0.1


def test_warm_restarts_find_far_periods_without_overflow():
    schedule = schedules.CosineWarmRestarts(1.0, T_0=3, T_mult=1000)
    huge = 2**62

    value = schedule(huge)

    assert 0.0 <= value <= 1.0
    assert value == reference.schedules.CosineWarmRestarts(1.0, 3, 1000)(huge)


@pytest.mark.parametrize("module", [schedules, reference.schedules], ids=["fo", "ref"])
def test_one_cycle_refuses_steps_past_its_end(module):
    schedule = module.OneCycle(0.1, total_steps=50)

    assert schedule(50) > 0.0
    with pytest.raises(ValueError, match="total_steps=50, not for step 51"):
        schedule(51)
    with pytest.raises(ValueError, match="total_steps=50, not for step 51"):
        schedule(np.arange(61))


def test_one_cycle_past_its_end_stops_the_optimizer_before_any_change():
    params = [np.ones(4)]
    opt = fo.SGD(params, lr=schedules.OneCycle(0.1, 3, pct_start=0.5), momentum=0.9)
    for _ in range(4):
        opt.step([np.full(4, 0.5)])
    before = params[0].copy()
    buffer = opt.state_dict()["state"][0]["momentum_buffer"]

    with pytest.raises(ValueError, match="not for step 4"):
        opt.step([np.full(4, 0.5)])

    np.testing.assert_array_equal(params[0], before)
    after = opt.state_dict()["state"][0]["momentum_buffer"]
    np.testing.assert_array_equal(after, buffer)
    assert opt.state_dict()["step"] == 4


def test_composed_schedules_keep_their_parts_alive():
    parts = [schedules.Exponential(0.1, 0.9), schedules.Linear(0.1, total_iters=4)]
    composed = schedules.Warmup(schedules.Sequential(parts, [5]), 3)
    expected = composed(np.arange(20))
    compiled = composed._core
    del parts, composed
    gc.collect()

    np.testing.assert_array_equal(compiled.evaluate(np.arange(20)), expected)


def test_native_and_reference_agree_to_the_bit_where_they_share_a_formula():
    steps = np.arange(2000)
    for name, args in [
        ("Constant", {"factor": 0.3, "total_iters": 7}),
        ("MultiStep", {"milestones": [5, 9], "gamma": 0.3}),
        ("Linear", {"start_factor": 0.2, "total_iters": 99}),
        ("Polynomial", {"total_iters": 300, "power": 0.5}),
        ("OneCycle", {"total_steps": 3000, "anneal_strategy": "linear"}),
        (
            "OneCycle",
            {"total_steps": 2500, "anneal_strategy": "linear", "three_phase": True},
        ),
    ]:
        native = getattr(schedules, name)(0.05, **args)(steps)
        ref = getattr(reference.schedules, name)(0.05, **args)(steps)
        np.testing.assert_allclose(native, ref, rtol=1e-15, atol=1e-300, err_msg=name)
    for module in (schedules, reference.schedules):
        parts = [
            module.Constant(0.05, factor=0.5, total_iters=40),
            module.MultiStep(0.02, [30, 60]),
            module.Linear(0.01, start_factor=0.5, total_iters=100),
        ]
        composed = module.Warmup(module.Sequential(parts, [100, 500]), 77, 0.2)
        if module is schedules:
            native = composed(steps)
        else:
            ref = composed(steps)
    np.testing.assert_allclose(native, ref, rtol=1e-15, atol=1e-300)


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
        (lambda m: m.CosineWarmRestarts(0.1, T_0=0), ValueError, "T_0 must be > 0"),
        (lambda m: m.CosineWarmRestarts(0.1, 5, T_mult=1.5), TypeError, "T_mult must"),
        (lambda m: m.CosineWarmRestarts(0.1, 5, lr_min=-1), ValueError, "lr_min must"),
        (lambda m: m.OneCycle(-0.1, 100), ValueError, "max_lr must be >= 0"),
        (lambda m: m.OneCycle(0.1, 0), ValueError, "total_steps must be > 0"),
        (lambda m: m.OneCycle(0.1, 100, pct_start=1.5), ValueError, "pct_start must"),
        (
            lambda m: m.OneCycle(0.1, 100, anneal_strategy="exp"),
            ValueError,
            "anneal_strategy must be 'cos' or 'linear'",
        ),
        (lambda m: m.OneCycle(0.1, 100, div_factor=0), ValueError, "div_factor must"),
        (
            lambda m: m.OneCycle(0.1, 100, final_div_factor=-1.0),
            ValueError,
            "final_div_factor must be > 0",
        ),
        (lambda m: m.OneCycle(0.1, 100, three_phase=1), TypeError, "three_phase must"),
        (
            lambda m: m.OneCycle(0.1, 10, pct_start=0.1),
            ValueError,
            "leaves phase 1 of the cycle without steps",
        ),
        (
            lambda m: m.OneCycle(0.1, 10, pct_start=1.0),
            ValueError,
            "leaves phase 2 of the cycle without steps",
        ),
        (
            lambda m: m.OneCycle(0.1, 100, pct_start=0.6, three_phase=True),
            ValueError,
            "leaves phase 3 of the cycle without steps",
        ),
        (
            lambda m: m.Sequential(m.Constant(0.1), []),
            TypeError,
            "schedules must be a list",
        ),
        (lambda m: m.Sequential([], []), ValueError, "at least one schedule"),
        (
            lambda m: m.Sequential([m.Constant(0.1), 0.1], [5]),
            TypeError,
            r"schedules\[1\] must be a",
        ),
        (
            lambda m: m.Sequential([m.Constant(0.1), m.Constant(0.2)], []),
            ValueError,
            "one step fewer than schedules: got 0 for 2",
        ),
        (
            lambda m: m.Sequential([m.Constant(0.1)] * 3, [5, 5]),
            ValueError,
            r"milestones\[1\] must be greater than milestones\[0\]",
        ),
        (
            lambda m: m.Sequential([m.Constant(0.1)] * 2, [0]),
            ValueError,
            r"milestones\[0\] must be > 0",
        ),
        (lambda m: m.Warmup(0.1, 5), TypeError, "schedule must be a"),
        (lambda m: m.Warmup(m.Constant(0.1), 0), ValueError, "warmup_steps must be"),
        (
            lambda m: m.Warmup(m.Constant(0.1), 5, start_factor=1.5),
            ValueError,
            r"start_factor must be in \[0, 1\]",
        ),
    ],
)
def test_bad_arguments_are_refused(module, make, error, message):
    with pytest.raises(error, match=message):
        make(module)


def test_native_compositions_refuse_parts_they_cannot_evaluate_in_cpp():
    with pytest.raises(
        TypeError,
        match=r"schedules\[1\] must be a schedule from "
        "fastoptim.schedules, got a Constant from fastoptim.reference",
    ):
        schedules.Sequential(
            [schedules.Constant(0.1), reference.schedules.Constant(0.1)], [3]
        )
    with pytest.raises(TypeError, match="got a schedule function"):
        schedules.Warmup(lambda t: 0.1, 3)


def test_reference_compositions_take_native_parts():
    native = schedules.CosineAnnealing(0.1, 50)
    composed = reference.schedules.Warmup(native, 10, start_factor=0.5)

    np.testing.assert_array_equal(composed(np.arange(10, 40)), native(np.arange(30)))
    assert composed(5) == native(0) * (0.5 + 0.5 * 5 / 10)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.Constant(0.05, factor=0.5, total_iters=4),
        schedules.MultiStep(0.05, [3, 6]),
        schedules.Exponential(0.05, 0.9),
        schedules.Linear(0.05, total_iters=8),
        schedules.Polynomial(0.05, total_iters=10, power=2.0),
        schedules.CosineWarmRestarts(0.05, T_0=2, T_mult=2, lr_min=0.01),
        schedules.OneCycle(0.05, total_steps=20, pct_start=0.25),
        schedules.Warmup(schedules.Exponential(0.05, 0.9), 3, start_factor=0.1),
        schedules.Sequential(
            [
                schedules.Constant(0.05),
                schedules.Warmup(schedules.CosineAnnealing(0.05, 9), 2),
                schedules.StepDecay(0.02, 2),
            ],
            [3, 7],
        ),
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
    assert repr(resumed_opt.param_groups[0]["lr"]) == repr(schedule)
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


def test_a_checkpoint_naming_an_unknown_part_is_refused(tmp_path):
    parts = [schedules.Constant(0.1), schedules.Exponential(0.1, 0.5)]
    opt = fo.SGD([np.ones(2)], lr=schedules.Sequential(parts, [2]))
    opt.step([np.ones(2)])
    opt.save(tmp_path / "opt.npz")
    with np.load(tmp_path / "opt.npz") as data:
        arrays = {key: data[key] for key in data.files}
    groups = json.loads(str(arrays["param_groups"]))
    groups[0]["lr"]["settings"]["schedules"][1]["schedule"] = "print"
    arrays["param_groups"] = np.array(json.dumps(groups))
    np.savez(tmp_path / "bad.npz", **arrays)
    other = fo.SGD([np.ones(2)], lr=0.5)

    with pytest.raises(
        ValueError,
        match=r"param_groups\[0\]\['lr'\]\.schedules\[1\] names an unknown "
        "schedule 'print'",
    ):
        other.load(tmp_path / "bad.npz")
    assert other.param_groups[0]["lr"] == 0.5
    assert other.state_dict()["step"] == 0


def test_reference_compositions_survive_a_checkpoint(tmp_path):
    ref = reference.schedules
    schedule = ref.Warmup(ref.Sequential([ref.Constant(0.1), ref.Linear(0.1)], [3]), 2)
    opt = reference.SGD([np.ones(2)], lr=schedule)
    opt.save(tmp_path / "opt.npz")
    other = reference.SGD([np.ones(2)], lr=0.5)

    other.load(tmp_path / "opt.npz")

    loaded = other.param_groups[0]["lr"]
    assert type(loaded) is ref.Warmup and repr(loaded) == repr(schedule)
    np.testing.assert_array_equal(loaded(np.arange(30)), schedule(np.arange(30)))
