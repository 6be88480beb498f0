"""The compiled optimizers against the NumPy reference, which they match bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import fastoptim as fo
from conftest import case_params, dtype_params, gradients, make_params
from fastoptim import reference

STEPS = 120


def run(cls, params, hyper, steps=STEPS, grads_of=gradients):
    opt = cls(params, **hyper)
    for _ in range(steps):
        opt.step(grads_of(params))
    return opt


def assert_same(native_params, reference_params):
    for index, (a, b) in enumerate(zip(native_params, reference_params)):
        np.testing.assert_array_equal(a, b, err_msg=f"params[{index}]")


@case_params()
@dtype_params
def test_native_matches_reference(native, ref, hyper, dtype):
    start = make_params(dtype)
    native_params = [p.copy() for p in start]
    reference_params = [p.copy() for p in start]

    run(native, native_params, hyper)
    run(ref, reference_params, hyper)

    assert_same(native_params, reference_params)
    moved = [not np.array_equal(a, b) for a, b in zip(native_params, start) if a.size]
    assert all(moved)
    for p in native_params:
        assert p.dtype == dtype
        assert np.all(np.isfinite(p))


@case_params()
@dtype_params
def test_state_matches_reference(native, ref, hyper, dtype):
    start = make_params(dtype, shapes=[(50,), ()])
    native_opt = run(native, [p.copy() for p in start], hyper, steps=10)
    reference_opt = run(ref, [p.copy() for p in start], hyper, steps=10)

    native_state = native_opt.state_dict()
    reference_state = reference_opt.state_dict()

    assert native_state["step"] == reference_state["step"] == 10
    assert native_state["state"].keys() == reference_state["state"].keys()
    for index, entry in native_state["state"].items():
        assert entry.keys() == reference_state["state"][index].keys()
        for name, value in entry.items():
            np.testing.assert_array_equal(value, reference_state["state"][index][name])


@pytest.mark.parametrize(
    "schedule",
    [
        fo.schedules.StepDecay(0.05, step_size=7, gamma=0.5),
        fo.schedules.CosineAnnealing(0.05, T_max=40, lr_min=0.001),
        reference.schedules.CosineAnnealing(0.05, T_max=40),
        lambda t: 0.05 / (1 + t),
    ],
    ids=["step-decay", "cosine", "reference-cosine", "callable"],
)
@case_params()
def test_schedule_as_lr(native, ref, hyper, schedule):
    start = make_params(np.float64)
    native_params = [p.copy() for p in start]
    reference_params = [p.copy() for p in start]
    constant_params = [p.copy() for p in start]
    hyper = dict(hyper, lr=schedule)

    run(native, native_params, hyper, steps=60)
    run(ref, reference_params, hyper, steps=60)
    run(native, constant_params, dict(hyper, lr=schedule(0)), steps=60)

    assert_same(native_params, reference_params)
    assert not np.array_equal(native_params[0], constant_params[0])


@case_params()
def test_schedule_gives_lr_of_each_step(native, ref, hyper):
    """A scheduled optimizer steps like one whose lr is set by hand each step."""
    schedule = fo.schedules.StepDecay(0.05, step_size=3, gamma=0.5)
    scheduled = make_params(np.float64)
    by_hand = make_params(np.float64)
    opt_scheduled = native(scheduled, **dict(hyper, lr=schedule))
    opt_by_hand = native(by_hand, **dict(hyper, lr=schedule(0)))

    for t in range(12):
        opt_by_hand.param_groups[0]["lr"] = schedule(t)
        opt_scheduled.step(gradients(scheduled))
        opt_by_hand.step(gradients(by_hand))

    assert_same(scheduled, by_hand)


@case_params()
@dtype_params
def test_groups_with_overrides(native, ref, hyper, dtype):
    start = make_params(dtype)
    lr = hyper["lr"]
    override = (
        {"weight_decay": 0.05}
        if "weight_decay" in native._hyperparameters
        else {"gamma": 0.3}
    )

    def groups(params):
        return [
            {"params": params[:2], "lr": lr / 2, **override},
            {"params": params[2:]},
        ]

    native_params = [p.copy() for p in start]
    reference_params = [p.copy() for p in start]
    split_params = [p.copy() for p in start]
    opt = native(groups(native_params), **hyper)
    ref_opt = ref(groups(reference_params), **hyper)
    first = native(split_params[:2], **dict(hyper, lr=lr / 2, **override))
    second = native(split_params[2:], **hyper)
    for _ in range(50):
        opt.step(gradients(native_params))
        ref_opt.step(gradients(reference_params))
        first.step(gradients(split_params[:2]))
        second.step(gradients(split_params[2:]))

    assert opt.param_groups[0]["lr"] == lr / 2
    assert opt.param_groups[1]["lr"] == lr
    assert_same(native_params, reference_params)
    assert_same(native_params, split_params)


@case_params()
def test_none_gradient_skips_parameter_and_state(native, ref, hyper):
    params = make_params(np.float64, shapes=[(4,), (3,)])
    frozen = params[1].copy()
    opt = native(params, **hyper)
    partner = make_params(np.float64, shapes=[(4,)])
    partner_opt = native(partner, **hyper)

    for _ in range(5):
        opt.step([gradients(params)[0], None])
        partner_opt.step(gradients(partner))

    np.testing.assert_array_equal(params[1], frozen)
    np.testing.assert_array_equal(params[0], partner[0])
    state = opt.state_dict()["state"][1]
    for name, value in state.items():
        assert value == 0 if name == "step" else not np.any(value)


@case_params()
def test_hyperparameters_changed_between_steps(native, ref, hyper):
    native_params = make_params(np.float32)
    reference_params = make_params(np.float32)
    opt = native(native_params, **hyper)
    ref_opt = ref(reference_params, **hyper)

    for t in range(30):
        for o in (opt, ref_opt):
            o.param_groups[0]["lr"] = hyper["lr"] * (1 + t % 3)
            if t == 15 and "amsgrad" in o.param_groups[0]:
                o.param_groups[0]["amsgrad"] = not o.param_groups[0]["amsgrad"]
            if t == 15 and "momentum" in o.param_groups[0]:
                o.param_groups[0]["momentum"] = 0.5
        opt.step(gradients(native_params))
        ref_opt.step(gradients(reference_params))

    assert_same(native_params, reference_params)


def test_mixed_dtypes_in_one_group():
    params = make_params(np.float32, shapes=[(9,)]) + make_params(
        np.float64, shapes=[(9,)]
    )
    single = [params[0].copy()], [params[1].copy()]
    opt = fo.Adam(params, lr=0.01)
    singles = [fo.Adam(p, lr=0.01) for p in single]
    for _ in range(20):
        opt.step(gradients(params))
        for o, p in zip(singles, single):
            o.step(gradients(p))

    assert params[0].dtype == np.float32 and params[1].dtype == np.float64
    np.testing.assert_array_equal(params[0], single[0][0])
    np.testing.assert_array_equal(params[1], single[1][0])


def test_sgd_first_step_and_momentum_match_closed_form():
    """Hand-computed values of torch's SGD: the buffer starts at the gradient."""
    w = np.array([1.0, -2.0])
    opt = fo.SGD([w], lr=0.1, momentum=0.9, dampening=0.5)
    opt.step([np.array([1.0, 1.0])])
    np.testing.assert_allclose(w, [0.9, -2.1], rtol=0, atol=1e-15)
    opt.step([np.array([2.0, 0.0])])
    # buffer = 0.9 * 1 + 0.5 * 2 = 1.9 and 0.9 * 1 + 0 = 0.9
    np.testing.assert_allclose(w, [0.9 - 0.19, -2.1 - 0.09], rtol=0, atol=1e-15)


def test_momentum_velocity_carries_learning_rate():
    w = np.array([0.0])
    opt = fo.Momentum([w], lr=0.1, gamma=0.5)
    opt.step([np.array([1.0])])  # v = 0.1
    opt.param_groups[0]["lr"] = 1.0
    opt.step([np.array([1.0])])  # v = 0.05 + 1.0
    np.testing.assert_allclose(w, [-0.1 - 1.05], rtol=1e-15)


def test_adam_matches_spec_formula():
    """The spec's Adam: bias-corrected moments, eps after the square root."""
    rng = np.random.default_rng(1)
    w = rng.standard_normal(6)
    expected = w.copy()
    m = np.zeros(6)
    v = np.zeros(6)
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    opt = fo.Adam([w], lr=lr, betas=(beta1, beta2), eps=eps)
    for t in range(1, 101):
        g = np.cos(expected) + expected
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
        opt.step([np.cos(w) + w])
    np.testing.assert_allclose(w, expected, rtol=1e-12)


def test_adamw_decays_the_parameter_not_the_gradient():
    w = np.array([2.0])
    opt = fo.AdamW([w], lr=0.1, weight_decay=0.5)
    opt.step([np.array([0.0])])
    # m = v = 0, so only the decay acts: w (1 - lr * wd).
    np.testing.assert_allclose(w, [2.0 * (1 - 0.05)], rtol=1e-15)
    assert fo.AdamW([np.zeros(1)]).param_groups[0]["weight_decay"] == 0.01
    assert fo.Adam([np.zeros(1)]).param_groups[0]["weight_decay"] == 0.0


@case_params()
def test_empty_and_scalar_parameters(native, ref, hyper):
    scalar = np.array(1.5)
    empty = np.zeros((0, 3))
    opt = native([scalar, empty], **hyper)
    opt.step([np.array(0.25), np.zeros((0, 3))])
    assert scalar.shape == () and scalar != 1.5
    assert empty.shape == (0, 3)
