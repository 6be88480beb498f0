"""ReduceLROnPlateau: torch's rates step for step, saved with the optimizer.

The golden rates come from tests/golden/make_schedule_family.py.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import fastoptim as fo
from fastoptim import reference
from fastoptim.schedules import ReduceLROnPlateau

GOLDEN = Path(__file__).resolve().parent / "golden" / "schedule_family.npz"
with np.load(GOLDEN, allow_pickle=False) as _data:
    DATA = {key: _data[key] for key in _data.files}
CASES = json.loads(str(DATA["plateau_cases"]))
METRICS = DATA["plateau_metrics"]
LRS = [float(lr) for lr in DATA["plateau_lrs"]]


def two_groups(module=fo):
    params = [np.zeros(3), np.zeros(2)]
    return module.SGD(
        [{"params": [p], "lr": lr} for p, lr in zip(params, LRS)],
        lr=LRS[0],
        momentum=0.5,
    )


def lrs(opt):
    return [group["lr"] for group in opt.param_groups]


@pytest.mark.parametrize("module", [fo, reference], ids=["fo", "ref"])
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_matches_torch_step_for_step(module, case):
    opt = two_groups(module)
    plateau = ReduceLROnPlateau(opt, **case["arguments"])
    expected = DATA[f"{case['name']}/lrs"]

    got = [(plateau.step(metric), lrs(opt))[1] for metric in METRICS]

    np.testing.assert_array_equal(got, expected)
    assert plateau.last_epoch == len(METRICS)


def test_step_reports_a_reduction_and_the_optimizer_uses_the_new_rate():
    params = [np.ones(2)]
    opt = fo.SGD(params, lr=0.5)
    plateau = ReduceLROnPlateau(opt, patience=1, factor=0.5)

    results = [plateau.step(metric) for metric in (1.0, 1.0, 1.0)]
    opt.step([np.ones(2)])

    assert results == [False, False, True]
    assert opt.param_groups[0]["lr"] == 0.25
    np.testing.assert_array_equal(params[0], [0.75, 0.75])


def test_progress_survives_a_checkpoint_and_carries_on_as_without_one(tmp_path):
    whole = two_groups()
    whole_plateau = ReduceLROnPlateau(whole, patience=3, cooldown=2, factor=0.5)
    first = two_groups()
    first_plateau = ReduceLROnPlateau(first, patience=3, cooldown=2, factor=0.5)
    for metric in METRICS[:150]:
        whole_plateau.step(metric)
        first_plateau.step(metric)
    first.save(tmp_path / "opt.npz")

    second = two_groups()
    second_plateau = ReduceLROnPlateau(second, patience=99)
    second.load(tmp_path / "opt.npz")
    for metric in METRICS[150:]:
        whole_plateau.step(metric)
        second_plateau.step(metric)

    assert lrs(second) == lrs(whole)
    assert second_plateau.state_dict() == whole_plateau.state_dict()
    assert second_plateau.patience == 3


def test_a_state_loaded_first_is_taken_over_by_the_next_one_attached():
    first = two_groups()
    first_plateau = ReduceLROnPlateau(first, mode="max", patience=2, min_lr=[0.01, 0])
    for metric in METRICS[:40]:
        first_plateau.step(-metric)
    saved = first.state_dict()

    second = two_groups()
    second.load_state_dict(saved)
    assert second.state_dict()["plateau"] == saved["plateau"]
    plateau = ReduceLROnPlateau(second)

    assert plateau.state_dict() == first_plateau.state_dict()
    assert "plateau" in second.state_dict()


def test_state_dict_holds_no_plateau_once_it_is_gone():
    opt = two_groups()
    plateau = ReduceLROnPlateau(opt)
    assert opt.state_dict()["plateau"]["best"] == math.inf
    del plateau

    assert "plateau" not in opt.state_dict()
    ReduceLROnPlateau(opt)  # the optimizer is free for another


@pytest.mark.parametrize(
    "change, error, message",
    [
        (lambda s: s.update(mode="up"), ValueError, "mode must be 'min' or 'max'"),
        (lambda s: s.update(factor=1.0), ValueError, r"factor must be in \[0, 1\)"),
        (lambda s: s.update(min_lrs=[0.1]), ValueError, "min_lrs must be a list of 2"),
        (lambda s: s.update(best="low"), TypeError, "best must be a real number"),
        (lambda s: s.update(last_epoch=-1), ValueError, "last_epoch must be >= 0"),
        (
            lambda s: s.pop("cooldown_counter"),
            ValueError,
            "missing entry 'cooldown_counter'",
        ),
        (lambda s: s.update(patience=2.0), TypeError, "patience must be an int"),
    ],
)
def test_a_bad_saved_state_is_refused_and_changes_nothing(change, error, message):
    opt = two_groups()
    plateau = ReduceLROnPlateau(opt, patience=1)
    for metric in (1.0, 1.0, 1.0):
        plateau.step(metric)
    saved = opt.state_dict()
    other = two_groups()
    other.step([np.ones(3), np.ones(2)])
    other_plateau = ReduceLROnPlateau(other, patience=7)
    before = (other.state_dict(), other_plateau.state_dict(), other._params[0].copy())
    change(saved["plateau"])

    with pytest.raises(error, match=r"state_dict\['plateau'\]: " + message):
        other.load_state_dict(saved)
    with pytest.raises(error, match="state_dict: " + message):
        other_plateau.load_state_dict(saved["plateau"])

    assert other_plateau.state_dict() == before[1]
    assert other.state_dict()["step"] == before[0]["step"] == 1
    assert lrs(other) == LRS
    np.testing.assert_array_equal(
        other.state_dict()["state"][0]["momentum_buffer"],
        before[0]["state"][0]["momentum_buffer"],
    )


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ({"mode": "lowest"}, ValueError, "mode must be 'min' or 'max'"),
        ({"factor": 1.5}, ValueError, r"factor must be in \[0, 1\)"),
        ({"patience": -1}, ValueError, "patience must be >= 0"),
        ({"threshold": -0.1}, ValueError, "threshold must be >= 0"),
        ({"threshold_mode": "ratio"}, ValueError, "threshold_mode must be"),
        ({"cooldown": 1.5}, TypeError, "cooldown must be an int"),
        ({"min_lr": [0.1]}, ValueError, "min_lr has 1 entries for 2 param_groups"),
        ({"min_lr": [0.1, -1.0]}, ValueError, r"min_lr\[1\] must be >= 0"),
        ({"eps": float("nan")}, ValueError, "eps must be finite"),
    ],
)
def test_bad_arguments_are_refused(arguments, error, message):
    with pytest.raises(error, match=message):
        ReduceLROnPlateau(two_groups(), **arguments)


def test_refuses_what_it_cannot_drive():
    with pytest.raises(TypeError, match="optimizer must be a fastoptim optimizer"):
        ReduceLROnPlateau([np.zeros(2)])
    constant = fo.schedules.Constant(0.1)
    scheduled = fo.SGD(
        [{"params": [np.zeros(2)]}, {"params": [np.zeros(2)], "lr": constant}], lr=0.1
    )
    with pytest.raises(TypeError, match=r"param_groups\[1\]\['lr'\] is a schedule"):
        ReduceLROnPlateau(scheduled)
    opt = two_groups()
    plateau = ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="already has a ReduceLROnPlateau"):
        ReduceLROnPlateau(opt)
    with pytest.raises(TypeError, match="metric must be a real number, got str"):
        plateau.step("0.5")
    opt.param_groups[0]["lr"] = fo.schedules.Constant(0.1)
    with pytest.raises(TypeError, match=r"param_groups\[0\]\['lr'\] is a schedule"):
        plateau.step(0.5)
    assert plateau.last_epoch == 0


def test_a_state_that_is_not_a_dict_is_refused():
    opt = two_groups()
    saved = opt.state_dict()
    saved["plateau"] = [0.1]

    with pytest.raises(TypeError, match=r"state_dict\['plateau'\]: must be a dict"):
        opt.load_state_dict(saved)
    assert "plateau" not in opt.state_dict()


def test_a_nan_metric_counts_as_no_improvement():
    opt = two_groups()
    plateau = ReduceLROnPlateau(opt, patience=1)
    plateau.step(1.0)

    assert not plateau.step(float("nan"))
    assert plateau.step(np.float64("nan"))
    assert plateau.best == 1.0
    assert lrs(opt) == [lr * 0.1 for lr in LRS]
