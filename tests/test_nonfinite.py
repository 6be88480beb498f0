"""Non-finite gradients: flowing through by default, skipped whole on request."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import case_params, dtype_params, gradients, make_params
from fastoptim import _core

SHAPES = [(5000,), (7,), ()]
# Places of the bad element: the first, one inside the vector loop, the scalar tail
# of a large array, and a 0-d parameter.
PLACES = [(0, 0), (0, 2500), (0, 4999), (1, 6), (2, ())]


def poisoned(params, where, value):
    grads = gradients(params)
    array, index = where
    grads[array][index] = value
    return grads


def snapshot(opt, params):
    state = opt.state_dict()
    return [p.copy() for p in params], {
        (i, k): np.copy(v) for i, e in state["state"].items() for k, v in e.items()
    }


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", PLACES, ids=[str(p) for p in PLACES])
@pytest.mark.parametrize("implementation", ["native", "reference"])
@case_params()
@dtype_params
def test_skipped_step_changes_nothing(
    implementation, native, ref, hyper, dtype, where, value
):
    cls = native if implementation == "native" else ref
    params = make_params(dtype, SHAPES)
    clean = make_params(dtype, SHAPES)
    opt = cls(params, skip_nonfinite=True, **hyper)
    clean_opt = cls(clean, **hyper)
    for o, p in ((opt, params), (clean_opt, clean)):
        assert o.step(gradients(p)) is True
    before = snapshot(opt, params)

    assert opt.step(poisoned(params, where, value)) is False

    after = snapshot(opt, params)
    for a, b in zip(after[0], before[0]):
        np.testing.assert_array_equal(a, b)
    assert after[1].keys() == before[1].keys()
    for key in after[1]:
        np.testing.assert_array_equal(after[1][key], before[1][key])
    assert opt.skipped_steps == 1
    assert opt.state_dict()["step"] == 1

    # The skipped step left no trace: the run goes on as one that never saw it.
    for o, p in ((opt, params), (clean_opt, clean)):
        assert o.step(gradients(p)) is True
    for a, b in zip(params, clean):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("isa", _core.supported_isas())
def test_every_isa_finds_the_bad_element(isa):
    import fastoptim as fo

    current = _core.isa()
    try:
        assert _core.select_isa(isa)
        for where in PLACES:
            params = make_params(np.float32, SHAPES)
            opt = fo.Adam(params, skip_nonfinite=True)
            assert opt.step(poisoned(params, where, np.nan)) is False
            assert opt.step(gradients(params)) is True
    finally:
        _core.select_isa(current)


@pytest.mark.parametrize("implementation", ["native", "reference"])
@case_params()
def test_by_default_a_nan_flows_into_the_update(implementation, native, ref, hyper):
    cls = native if implementation == "native" else ref
    params = make_params(np.float64, SHAPES)
    opt = cls(params, **hyper)

    assert opt.step(poisoned(params, (0, 3), np.nan)) is True

    assert np.isnan(params[0][3])
    assert opt.skipped_steps == 0


def test_skip_nonfinite_must_be_a_bool():
    import fastoptim as fo

    with pytest.raises(TypeError, match="skip_nonfinite must be a bool"):
        fo.Adam([np.zeros(2)], skip_nonfinite=1)
