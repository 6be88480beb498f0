"""state_dict and load_state_dict: torch's layout, snapshots, exact resumption."""

from __future__ import annotations

import numpy as np

import fastoptim as fo
from conftest import case_params, dtype_params, gradients, make_params


def steps(opt, params, count):
    for _ in range(count):
        opt.step(gradients(params))


@case_params()
@dtype_params
def test_resuming_from_a_state_dict_is_exact(native, ref, hyper, dtype):
    hyper = dict(hyper, lr=fo.schedules.CosineAnnealing(hyper["lr"], T_max=15))
    straight = make_params(dtype)
    straight_opt = native(straight, **hyper)
    steps(straight_opt, straight, 25)

    first = make_params(dtype)
    first_opt = native(first, **hyper)
    steps(first_opt, first, 10)
    saved = first_opt.state_dict()
    resumed = [p.copy() for p in first]
    resumed_opt = native(resumed, **hyper)
    resumed_opt.load_state_dict(saved)
    steps(resumed_opt, resumed, 15)

    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


@case_params()
def test_layout_follows_torch(native, ref, hyper):
    params = make_params(np.float64, shapes=[(3,), (2, 2)])
    opt = native([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], **hyper)
    steps(opt, params, 2)

    state = opt.state_dict()

    assert set(state) == {"state", "param_groups", "step", "skipped_steps"}
    assert state["step"] == 2
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert state["param_groups"][1]["lr"] == 0.5
    for group in state["param_groups"]:
        assert set(group) == {"params", *native._hyperparameters}
    assert set(state["state"]) == {0, 1}
    for index, entry in state["state"].items():
        for name, value in entry.items():
            if name == "step":
                assert value == 2
            else:
                assert value.shape == params[index].shape
                assert value.dtype == params[index].dtype


@case_params()
def test_state_dict_is_a_snapshot(native, ref, hyper):
    params = make_params(np.float32, shapes=[(5,)])
    opt = native(params, **hyper)
    steps(opt, params, 2)
    state = opt.state_dict()
    kept = {name: np.copy(value) for name, value in state["state"][0].items()}

    steps(opt, params, 2)
    opt.param_groups[0]["lr"] = 123.0

    assert state["step"] == 2
    assert state["param_groups"][0]["lr"] != 123.0
    for name, value in state["state"][0].items():
        np.testing.assert_array_equal(value, kept[name])


@case_params()
def test_loading_restores_hyperparameters(native, ref, hyper):
    params = make_params(np.float64, shapes=[(4,)])
    opt = native(params, **hyper)
    saved = opt.state_dict()
    opt.param_groups[0]["lr"] = 9.0

    opt.load_state_dict(saved)

    assert opt.param_groups[0]["lr"] == hyper["lr"]
    assert opt.param_groups[0]["params"][0] is params[0]


def test_loading_an_earlier_state_rewinds():
    params = make_params(np.float64, shapes=[(4,)])
    opt = fo.Adam(params, lr=0.1)
    fresh = opt.state_dict()
    steps(opt, params, 3)

    opt.load_state_dict(fresh)

    state = opt.state_dict()
    assert state["step"] == 0 and state["state"][0]["step"] == 0
    assert not np.any(state["state"][0]["exp_avg"])


def test_sgd_buffer_absent_until_momentum_is_used():
    params = make_params(np.float64, shapes=[(4,)])
    opt = fo.SGD(params, lr=0.1)
    steps(opt, params, 1)
    assert "momentum_buffer" not in opt.state_dict()["state"][0]

    opt.param_groups[0]["momentum"] = 0.9
    grads = gradients(params)
    opt.step(grads)

    # Like torch's, the buffer starts as the gradient of the first step that uses it.
    np.testing.assert_array_equal(
        opt.state_dict()["state"][0]["momentum_buffer"], grads[0]
    )
