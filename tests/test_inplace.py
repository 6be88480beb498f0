"""Parameters and state are updated where they live: never a copy."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import case_params, dtype_params, gradients, make_params


@case_params()
@dtype_params
def test_updates_the_callers_arrays(native, ref, hyper, dtype):
    params = make_params(dtype, shapes=[(3, 4), (5,)])
    originals = list(params)
    addresses = [p.ctypes.data for p in params]
    before = [p.copy() for p in params]
    opt = native(params, **hyper)

    opt.step(gradients(params))

    for p, original, address, old in zip(params, originals, addresses, before):
        assert p is original
        assert p.ctypes.data == address
        assert not np.array_equal(p, old)
    assert opt.param_groups[0]["params"][0] is originals[0]


@case_params()
@dtype_params
def test_updates_a_view_into_a_larger_array(native, ref, hyper, dtype):
    """A contiguous slice is updated through to the array it views."""
    base = np.ones(30, dtype=dtype)
    view = base[10:20]
    opt = native([view], **hyper)

    opt.step([np.full(10, 0.5, dtype=dtype)])

    assert np.all(base[10:20] != 1)
    assert np.all(base[:10] == 1) and np.all(base[20:] == 1)


@case_params()
def test_state_buffers_stay_in_place(native, ref, hyper):
    params = make_params(np.float64, shapes=[(6,), (2, 2)])
    opt = native(params, **hyper)
    opt.step(gradients(params))

    def buffers():
        return [
            (name, position, buffer)
            for state in opt._group_states
            for name in opt._buffers
            for position, buffer in enumerate(state[name])
            if buffer is not None
        ]

    before = [
        (name, position, b, b.ctypes.data, b.copy()) for name, position, b in buffers()
    ]
    for _ in range(3):
        opt.step(gradients(params))
    opt.load_state_dict(opt.state_dict())

    after = {(name, position): b for name, position, b in buffers()}
    for name, position, buffer, address, old in before:
        assert after[name, position] is buffer
        assert buffer.ctypes.data == address
        if name != "max_exp_avg_sq":
            assert not np.array_equal(buffer, old), name


@case_params()
def test_gradients_are_read_not_written(native, ref, hyper):
    params = make_params(np.float32, shapes=[(8,)])
    grads = gradients(params)
    kept = grads[0].copy()
    grads[0].flags.writeable = False
    opt = native(params, **hyper)

    opt.step(grads)

    np.testing.assert_array_equal(grads[0], kept)


@pytest.mark.parametrize("layout", ["fortran-as-flat", "broadcast-free-reshape"])
def test_contiguous_gradient_of_other_origin_is_accepted(layout):
    import fastoptim as fo

    w = np.zeros((3, 2))
    source = np.arange(6.0).reshape(2, 3)
    grad = source.T.copy() if layout == "fortran-as-flat" else source.reshape(3, 2)
    opt = fo.SGD([w], lr=1.0)
    opt.step([grad])
    np.testing.assert_array_equal(w, -grad)
