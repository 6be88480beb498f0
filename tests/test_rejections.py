"""Bad input: a clear exception naming the argument, and nothing changed."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import fastoptim as fo
from conftest import CASES, gradients, make_params
from fastoptim import reference

OPTIMIZERS = [
    pytest.param(cls, id=f"{module}.{cls.__name__}")
    for module, classes in [
        ("fo", [fo.SGD, fo.Momentum, fo.Adam, fo.AdamW]),
        (
            "reference",
            [reference.SGD, reference.Momentum, reference.Adam, reference.AdamW],
        ),
    ]
    for cls in classes
]


def unaligned(dtype):
    raw = np.zeros(np.dtype(dtype).itemsize * 5 + 1, dtype=np.uint8)
    array = np.frombuffer(raw[1:].data, dtype=dtype)
    array = np.ndarray(array.shape, dtype=dtype, buffer=raw[1:])
    assert not array.flags.aligned
    return array


def read_only():
    array = np.zeros(3)
    array.flags.writeable = False
    return array


BAD_PARAMS = [
    ([[1.0, 2.0]], TypeError, r"params\[0\] is a list, not a numpy.ndarray"),
    ([np.zeros(3), np.zeros(3, np.int64)], TypeError, r"params\[1\] has dtype int64"),
    ([np.zeros(3, np.float16)], TypeError, r"params\[0\] has dtype float16"),
    ([np.zeros(3, ">f8")], TypeError, r"params\[0\] .*not in native byte order"),
    ([np.zeros(6)[::2]], ValueError, r"params\[0\] is not C-contiguous"),
    ([np.zeros((3, 2), order="F")], ValueError, r"params\[0\] is not C-contiguous"),
    ([np.zeros(2), read_only()], ValueError, r"params\[1\] is read-only"),
    ([unaligned(np.float64)], ValueError, r"params\[0\] is not aligned"),
    ([], ValueError, "params is empty"),
    (np.zeros(3), TypeError, "params must be a list .* single ndarray"),
    (5, TypeError, "params must be a list"),
    ([{"params": [np.zeros(2)]}, np.zeros(2)], TypeError, "mixes arrays and group"),
    (
        [{"params": [np.zeros(2)], "lr_typo": 1.0}],
        ValueError,
        "unknown option 'lr_typo'",
    ),
    ([{"weights": [np.zeros(2)]}], ValueError, "unknown option 'weights'"),
]


@pytest.mark.parametrize("params, error, message", BAD_PARAMS)
@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_bad_parameters_are_refused(cls, params, error, message):
    with pytest.raises(error, match=message):
        cls(params, lr=0.1)


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_same_array_twice_is_refused(cls):
    w = np.zeros(3)
    with pytest.raises(
        ValueError, match=r"params\[2\] is the same array as params\[0\]"
    ):
        cls([{"params": [w, np.zeros(1)]}, {"params": [w]}], lr=0.1)


BAD_HYPERPARAMETERS = [
    (fo.SGD, {"lr": -0.1}, ValueError, "lr must be >= 0"),
    (fo.SGD, {"lr": float("nan")}, ValueError, "lr must be finite"),
    (fo.SGD, {"lr": "0.1"}, TypeError, "lr must be a real number"),
    (fo.SGD, {"lr": 0.1, "momentum": -0.9}, ValueError, "momentum must be >= 0"),
    (fo.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 1.5}, ValueError, "dampening"),
    (fo.SGD, {"lr": 0.1, "nesterov": True}, ValueError, "nesterov requires momentum"),
    (
        fo.SGD,
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True},
        ValueError,
        "nesterov requires .* dampening = 0",
    ),
    (fo.SGD, {"lr": 0.1, "weight_decay": -1e-4}, ValueError, "weight_decay must be"),
    (fo.SGD, {"lr": 0.1, "maximize": 1}, TypeError, "maximize must be a bool"),
    (fo.Momentum, {"lr": 0.1, "gamma": 1.0}, ValueError, r"gamma must be in \[0, 1\)"),
    (fo.Momentum, {"lr": 0.1, "gamma": -0.1}, ValueError, "gamma must be in"),
    (fo.Momentum, {"lr": 0.1, "nesterov": "yes"}, TypeError, "nesterov must be a bool"),
    (fo.Adam, {"lr": -1e-3}, ValueError, "lr must be >= 0"),
    (fo.Adam, {"betas": (1.0, 0.999)}, ValueError, r"betas\[0\] must be in \[0, 1\)"),
    (fo.Adam, {"betas": (0.9, -0.1)}, ValueError, r"betas\[1\] must be in \[0, 1\)"),
    (fo.Adam, {"betas": (0.9,)}, TypeError, "betas must be a pair"),
    (fo.Adam, {"betas": 0.9}, TypeError, "betas must be a pair"),
    (fo.Adam, {"eps": -1e-8}, ValueError, "eps must be >= 0"),
    (fo.Adam, {"weight_decay": -0.1}, ValueError, "weight_decay must be >= 0"),
    (
        fo.AdamW,
        {"weight_decay": float("inf")},
        ValueError,
        "weight_decay must be finite",
    ),
    (fo.AdamW, {"amsgrad": None}, TypeError, "amsgrad must be a bool"),
]


@pytest.mark.parametrize(
    "cls, hyper, error, message",
    [
        pytest.param(*case, id=f"{case[0].__name__}-{'-'.join(case[1])}")
        for case in BAD_HYPERPARAMETERS
    ],
)
def test_bad_hyperparameters_are_refused(cls, hyper, error, message):
    ref_cls = getattr(reference, cls.__name__)
    for c in (cls, ref_cls):
        with pytest.raises(error, match=message):
            c([np.zeros(2)], **hyper)
        group = {"params": [np.zeros(2)], **hyper}
        with pytest.raises(error, match=message):
            c([group], lr=0.1)


def test_hyperparameters_after_the_first_two_are_keyword_only():
    with pytest.raises(TypeError):
        fo.SGD([np.zeros(2)], 0.1, 0.9)
    with pytest.raises(TypeError):
        fo.Adam([np.zeros(2)], 1e-3, (0.9, 0.999))


def snapshot(opt, params):
    return [p.copy() for p in params], copy.deepcopy(opt.state_dict())


def assert_unchanged(opt, params, before):
    saved_params, saved_state = before
    for p, old in zip(params, saved_params):
        np.testing.assert_array_equal(p, old)
    state = opt.state_dict()
    assert state["step"] == saved_state["step"]
    assert state["param_groups"] == saved_state["param_groups"]
    assert state["state"].keys() == saved_state["state"].keys()
    for index, entry in state["state"].items():
        assert entry.keys() == saved_state["state"][index].keys()
        for name, value in entry.items():
            np.testing.assert_array_equal(value, saved_state["state"][index][name])


def stepped(case_hyper, cls, dtype=np.float32):
    """An optimizer with two groups and a few steps behind it."""
    params = make_params(dtype, shapes=[(4,), (2, 3), ()])
    opt = cls([{"params": params[:1]}, {"params": params[1:]}], **case_hyper)
    for _ in range(3):
        opt.step(gradients(params))
    return opt, params


def good_grads(params):
    return gradients(params)


def non_contiguous(params):
    grads = gradients(params)
    grads[1] = np.asfortranarray(grads[1])
    return grads


BAD_GRADIENTS = [
    (lambda ps: good_grads(ps)[:2], ValueError, "expected 3 gradients, one per param"),
    (lambda ps: good_grads(ps) + [np.zeros(1)], ValueError, "expected 3 gradients"),
    (lambda ps: np.zeros(3, np.float32), TypeError, "grads must be a list or tuple"),
    (
        lambda ps: good_grads(ps)[:2] + [ps[2].astype(np.float64)],
        TypeError,
        r"grads\[2\] has dtype <f8 but params\[2\] has <f4; gradients are never cast",
    ),
    (
        lambda ps: [good_grads(ps)[0].astype(">f4")] + good_grads(ps)[1:],
        TypeError,
        r"grads\[0\] has dtype >f4",
    ),
    (
        lambda ps: (
            good_grads(ps)[:1] + [np.zeros((3, 2), np.float32)] + good_grads(ps)[2:]
        ),
        ValueError,
        r"grads\[1\] has shape \(3, 2\) but params\[1\] has \(2, 3\)",
    ),
    (
        lambda ps: good_grads(ps)[:2] + [np.zeros(1, np.float32)],
        ValueError,
        r"grads\[2\] has shape \(1,\) but params\[2\] has \(\)",
    ),
    (non_contiguous, ValueError, r"grads\[1\] is not C-contiguous"),
    (
        lambda ps: good_grads(ps)[:2] + [np.float32(1.0)],
        TypeError,
        r"grads\[2\] is a float32, not a numpy.ndarray; wrap it",
    ),
    (
        lambda ps: [[0.0] * 4] + good_grads(ps)[1:],
        TypeError,
        r"grads\[0\] is a list, not a numpy.ndarray",
    ),
    (
        lambda ps: [unaligned(np.float32)[:4]] + good_grads(ps)[1:],
        ValueError,
        r"grads\[0\] is not aligned",
    ),
]

CASE_IDS = [name for name, *_ in CASES]

CASE_BY_ID = {name: (native, ref, hyper) for name, native, ref, hyper in CASES}


@pytest.mark.parametrize("make_grads, error, message", BAD_GRADIENTS)
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("which", ["native", "reference"])
def test_bad_gradients_change_nothing(case, which, make_grads, error, message):
    native, ref, hyper = CASE_BY_ID[case]
    opt, params = stepped(hyper, native if which == "native" else ref)
    before = snapshot(opt, params)

    with pytest.raises(error, match=message):
        opt.step(make_grads(params))

    assert_unchanged(opt, params, before)
    opt.step(gradients(params))
    assert not np.array_equal(params[0], before[0][0])


BAD_GROUP_VALUES = [
    ("lr", -1.0, ValueError, "lr must be >= 0"),
    ("lr", None, TypeError, "lr must be a real number"),
    ("weight_decay", -1.0, ValueError, "weight_decay must be >= 0"),
    ("betas", (0.9, 1.0), ValueError, r"betas\[1\]"),
    ("gamma", 2.0, ValueError, "gamma must be in"),
    ("momentum", -1.0, ValueError, "momentum must be >= 0"),
]


@pytest.mark.parametrize(
    "case, key, value, error, message",
    [
        pytest.param(name, *bad, id=f"{name}-{bad[0]}={bad[1]}")
        for name, native, _, _ in CASES
        for bad in BAD_GROUP_VALUES
        if bad[0] in native._hyperparameters
    ],
)
def test_bad_hyperparameter_set_between_steps_changes_nothing(
    case, key, value, error, message
):
    native, _, hyper = CASE_BY_ID[case]
    opt, params = stepped(hyper, native)
    before = snapshot(opt, params)
    # The bad value is in the last group, so the first would update if nothing
    # checked every group before the first update.
    opt.param_groups[1][key] = value

    with pytest.raises(error, match=message):
        opt.step(gradients(params))

    opt.param_groups[1][key] = before[1]["param_groups"][1][key]
    assert_unchanged(opt, params, before)


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_schedule_giving_a_bad_lr_changes_nothing(cls):
    params = [np.ones(3)]
    opt = cls(params, lr=lambda t: 0.1 if t < 2 else -0.1)
    opt.step([np.ones(3)])
    opt.step([np.ones(3)])
    before = snapshot(opt, params)

    with pytest.raises(ValueError, match=r"lr at step 2 .* must be >= 0, got -0\.1"):
        opt.step([np.ones(3)])

    assert_unchanged(opt, params, before)


def bad_state(mutate):
    def make(opt):
        state = copy.deepcopy(opt.state_dict())
        mutate(state)
        return state

    return make


def first_buffer(state):
    entry = state["state"][0]
    return next(name for name in entry if name != "step")


# (corruption, error, message, whether it corrupts a buffer, which plain SGD lacks)
BAD_STATES = [
    (bad_state(lambda s: s.pop("state")), ValueError, "no 'state' entry", False),
    (
        bad_state(lambda s: s.pop("param_groups")),
        ValueError,
        "no 'param_groups'",
        False,
    ),
    (
        bad_state(lambda s: s["param_groups"].pop()),
        ValueError,
        "has 1 param_groups",
        False,
    ),
    (
        bad_state(lambda s: s["param_groups"][1]["params"].pop()),
        ValueError,
        r"param_groups\[1\] has 1 parameters in state_dict, 2 in this optimizer",
        False,
    ),
    (
        bad_state(lambda s: s["param_groups"][0].pop("lr")),
        ValueError,
        r"param_groups\[0\] has no 'lr'",
        False,
    ),
    (
        bad_state(lambda s: s["param_groups"][0].update(lr=-1.0)),
        ValueError,
        r"param_groups\[0\]: lr must be >= 0",
        False,
    ),
    (
        bad_state(lambda s: s["state"].update({7: {}})),
        ValueError,
        "no parameter has",
        False,
    ),
    (bad_state(lambda s: s.update(step=-1)), ValueError, "step'] must be >= 0", False),
    (
        bad_state(
            lambda s: s["state"][0].update({first_buffer(s): np.zeros(5, np.float32)})
        ),
        ValueError,
        r"state\[0\]\['\w+'\] has dtype float32 and shape \(5,\)",
        True,
    ),
    (
        bad_state(lambda s: s["state"][1].update({first_buffer(s): np.zeros((2, 3))})),
        ValueError,
        r"state\[1\]\['\w+'\] has dtype float64 .* params\[1\] has float32",
        True,
    ),
    (
        bad_state(lambda s: s["state"][1].update({first_buffer(s): [0.0] * 6})),
        TypeError,
        r"state\[1\]\['\w+'\] is not a numpy.ndarray",
        True,
    ),
    (
        bad_state(lambda s: s["state"][0].update(surprise=np.zeros(4, np.float32))),
        ValueError,
        r"state\[0\] has unknown entry 'surprise'",
        False,
    ),
]


def keeps_buffers(native, hyper):
    return native is not fo.SGD or hyper.get("momentum", 0) != 0


@pytest.mark.parametrize(
    "case, make_state, error, message",
    [
        pytest.param(name, make, error, message, id=f"{name}-{number}")
        for name, native, _, hyper in CASES
        for number, (make, error, message, needs_buffer) in enumerate(BAD_STATES)
        if keeps_buffers(native, hyper) or not needs_buffer
    ],
)
def test_bad_state_dict_changes_nothing(case, make_state, error, message):
    native, _, hyper = CASE_BY_ID[case]
    opt, params = stepped(hyper, native)
    bad = make_state(opt)
    before = snapshot(opt, params)

    with pytest.raises(error, match=message):
        opt.load_state_dict(bad)

    assert_unchanged(opt, params, before)


@pytest.mark.parametrize("case", ["adam", "momentum", "sgd-momentum"])
def test_state_dict_missing_a_buffer_is_refused(case):
    native, _, hyper = CASE_BY_ID[case]
    opt, params = stepped(hyper, native)
    state = copy.deepcopy(opt.state_dict())
    name = first_buffer(state)
    del state["state"][2][name]
    before = snapshot(opt, params)

    if case == "sgd-momentum":
        # torch's SGD has no buffer until momentum is first used: absent is fresh.
        opt.load_state_dict(state)
        assert name not in opt.state_dict()["state"][2]
        return
    with pytest.raises(ValueError, match=rf"state\[2\] has no '{name}'"):
        opt.load_state_dict(state)
    assert_unchanged(opt, params, before)


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_parameters_are_fixed_at_construction(cls):
    params = [np.ones(3), np.ones(2)]
    opt = cls(params, lr=0.1)
    grads = [np.ones(3), np.ones(2)]
    with pytest.raises(AttributeError):
        opt.param_groups[0]["params"].append(np.ones(1))

    opt.param_groups[0]["params"] = (np.ones(3), np.ones(2))
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['params'\] was replaced"):
        opt.step(grads)

    opt.param_groups[0]["params"] = opt._group_params[0]
    opt.param_groups.append({**opt.param_groups[0], "params": (np.ones(1),)})
    with pytest.raises(ValueError, match="param_groups has 2 groups, built with 1"):
        opt.step(grads)
    np.testing.assert_array_equal(params[0], np.ones(3))


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_group_replaced_by_a_plain_dict_is_checked(cls):
    params = [np.ones(3)]
    opt = cls(params, lr=0.1)
    opt.param_groups[0] = {**opt.param_groups[0], "lr": -1.0}
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.step([np.ones(3)])
    np.testing.assert_array_equal(params[0], np.ones(3))

    opt.param_groups[0] = {**opt.param_groups[0], "lr": 0.5}
    opt.step([np.ones(3)])
    assert not np.array_equal(params[0], np.ones(3))


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_parameters_sharing_memory_are_refused(cls):
    base = np.zeros(10)
    with pytest.raises(ValueError, match=r"params\[2\] shares memory with params\[0\]"):
        cls([base[0:6], np.zeros(3), base[4:10]], lr=0.1)
    whole = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"params\[1\] shares memory with params\[0\]"):
        cls([whole, whole[1]], lr=0.1)
    # Neighbouring views that do not overlap, and empty ones, are fine.
    cls([base[0:5], base[5:10], base[5:5]], lr=0.1)


@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("which", ["native", "reference"])
def test_gradient_sharing_memory_with_a_parameter_is_refused(case, which):
    native, ref, hyper = CASE_BY_ID[case]
    opt, params = stepped(hyper, native if which == "native" else ref)
    before = snapshot(opt, params)
    grads = gradients(params)
    grads[1] = params[1]

    with pytest.raises(ValueError, match=r"grads\[1\] shares memory with params\[1\]"):
        opt.step(grads)

    assert_unchanged(opt, params, before)
    # A view of another parameter's memory is refused as well.
    grads = gradients(params)
    grads[2] = params[0][1:2].reshape(())
    with pytest.raises(ValueError, match=r"grads\[2\] shares memory with params\[0\]"):
        opt.step(grads)
    assert_unchanged(opt, params, before)


@pytest.mark.parametrize("case", ["sgd-momentum", "momentum", "adam-amsgrad"])
def test_gradient_sharing_memory_with_the_state_is_refused(case):
    native, _, hyper = CASE_BY_ID[case]
    opt, params = stepped(hyper, native)
    name = next(k for k in opt.state_dict()["state"][0] if k != "step")
    # Only the optimizer holds its buffers; reach one to alias it on purpose.
    buffer = opt._group_states[0][name][0]
    before = snapshot(opt, params)
    grads = gradients(params)
    grads[0] = buffer

    with pytest.raises(
        ValueError, match=r"grads\[0\] shares memory with the state of params\[0\]"
    ):
        opt.step(grads)

    assert_unchanged(opt, params, before)
