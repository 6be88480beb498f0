"""Every instruction set and thread count gives the reference's bits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastoptim as fo
from conftest import case_params, dtype_params, gradients, make_params
from fastoptim import _core, reference

ISAS = _core.supported_isas()
# Arrays of many sizes, so that chunks cross array boundaries and split arrays.
SHAPES = [(3000,), (7,), (), (0,), (1500, 3), (1,), (2049,)]


@pytest.fixture
def engine_settings():
    """Restore the instruction set, thread count, splitting and prefetching."""
    isa = _core.isa()
    threads = fo.get_num_threads()
    threshold = _core.parallel_threshold()
    chunk = _core.chunk_elements()
    prefetch = _core.prefetching()
    yield
    assert _core.select_isa(isa)
    fo.set_num_threads(threads)
    _core.set_parallel_threshold(threshold)
    _core.set_chunk_elements(chunk)
    _core.set_prefetching(prefetch)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("prefetch", [False, True], ids=["no_prefetch", "prefetch"])
@case_params()
@dtype_params
def test_every_isa_and_thread_count_matches_reference(
    engine_settings, isa, threads, prefetch, native, ref, hyper, dtype
):
    assert _core.select_isa(isa)
    fo.set_num_threads(threads)
    # Split every step, however small, into chunks of 1000 elements or so, inside
    # which the requests 2 KiB ahead fall, and past whose ends they do not.
    _core.set_parallel_threshold(0)
    _core.set_chunk_elements(1000)
    _core.set_prefetching(prefetch)
    native_params = make_params(dtype, SHAPES)
    reference_params = make_params(dtype, SHAPES)
    opt = native(native_params, **hyper)
    ref_opt = ref(reference_params, **hyper)

    for _ in range(25):
        opt.step(gradients(native_params))
        ref_opt.step(gradients(reference_params))

    assert _core.isa() == isa
    assert _core.prefetching() is prefetch
    for a, b in zip(native_params, reference_params):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("threads", [2, 3])
@dtype_params
def test_splits_at_every_cache_line_phase_match_reference(
    engine_settings, threads, dtype
):
    fo.set_num_threads(threads)
    _core.set_parallel_threshold(0)
    _core.set_chunk_elements(1000)
    per_line = 64 // np.dtype(dtype).itemsize

    def params():
        # Views that start at every offset within a cache line, of sizes that leave
        # every phase at their ends too.
        rng = np.random.default_rng(3)
        views = []
        for shift in [*range(1, per_line), 0]:
            buffer = np.empty(2600 + per_line, dtype=dtype)
            start = (-buffer.ctypes.data) % 64 // buffer.itemsize + shift
            view = buffer[start : start + 2500 - 37 * shift]
            assert view.ctypes.data % 64 == shift * buffer.itemsize
            view[...] = rng.standard_normal(view.size)
            views.append(view)
        return views

    native_params, reference_params = params(), params()
    opt = fo.Adam(native_params, lr=0.01, amsgrad=True)
    ref_opt = reference.Adam(reference_params, lr=0.01, amsgrad=True)
    for _ in range(10):
        opt.step(gradients(native_params))
        ref_opt.step(gradients(reference_params))

    for a, b in zip(native_params, reference_params):
        np.testing.assert_array_equal(a, b)
    state = opt._group_states[0]
    for index, param in enumerate(native_params):
        for name in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
            assert state[name][index].ctypes.data % 64 == param.ctypes.data % 64


def test_best_isa_is_the_default():
    info = json.loads(run_python(INFO, FASTOPTIM_ISA="").stdout)
    assert info["supported_isas"][0] in ("baseline", "neon")
    assert info["isa"] == info["supported_isas"][-1]


def test_build_info_describes_the_build():
    info = fo.build_info()
    assert info["version"] == fo.__version__
    assert info["isa"] in info["supported_isas"]
    assert info["num_threads"] == fo.get_num_threads() >= 1
    assert info["available_cores"] >= 1
    assert info["compiler"] and info["eigen"].startswith("3.")
    assert info["prefetch"] is _core.prefetching()


def test_set_num_threads(engine_settings):
    fo.set_num_threads(3)
    assert fo.get_num_threads() == 3
    fo.set_num_threads(1)
    assert fo.get_num_threads() == 1
    with pytest.raises(ValueError, match="threads must be > 0"):
        fo.set_num_threads(0)
    with pytest.raises(TypeError, match="threads must be an int"):
        fo.set_num_threads(2.0)
    assert fo.get_num_threads() == 1


def test_unknown_isa_cannot_be_selected():
    assert not _core.select_isa("avx9000")
    assert _core.isa() in ISAS


def run_python(code, **env):
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=True,
    )
    return result


INFO = "import json, fastoptim; print(json.dumps(fastoptim.build_info()))"


@pytest.mark.parametrize("isa", ISAS)
def test_environment_forces_an_isa(isa):
    info = json.loads(run_python(INFO, FASTOPTIM_ISA=isa).stdout)
    assert info["isa"] == isa


def test_environment_asking_for_an_unsupported_isa_warns():
    result = run_python(INFO, FASTOPTIM_ISA="avx9000")
    assert json.loads(result.stdout)["isa"] == ISAS[-1]
    assert "FASTOPTIM_ISA=avx9000 is not supported here" in result.stderr


def test_environment_turns_prefetching_on_and_off():
    assert (
        json.loads(run_python(INFO, FASTOPTIM_PREFETCH="0").stdout)["prefetch"] is False
    )
    assert (
        json.loads(run_python(INFO, FASTOPTIM_PREFETCH="1").stdout)["prefetch"] is True
    )
    default = json.loads(run_python(INFO, FASTOPTIM_PREFETCH="").stdout)["prefetch"]
    result = run_python(INFO, FASTOPTIM_PREFETCH="yes")
    assert json.loads(result.stdout)["prefetch"] is default
    assert "FASTOPTIM_PREFETCH=yes is neither 0 nor 1" in result.stderr


def test_environment_sets_the_thread_count():
    assert (
        json.loads(run_python(INFO, FASTOPTIM_NUM_THREADS="3").stdout)["num_threads"]
        == 3
    )
    result = run_python(INFO, FASTOPTIM_NUM_THREADS="many")
    info = json.loads(result.stdout)
    assert info["num_threads"] == info["available_cores"]
    assert "FASTOPTIM_NUM_THREADS=many is not a thread count" in result.stderr


def test_memory_bandwidth_is_measured():
    bandwidth = fo.memory_bandwidth(megabytes=8, repeats=2)
    assert 1e8 < bandwidth < 1e13
    with pytest.raises(ValueError, match="megabytes must be > 0"):
        fo.memory_bandwidth(megabytes=0)


def test_bandwidth_probe_is_read_again_and_again(engine_settings):
    probe = fo.BandwidthProbe(megabytes=8)
    assert probe.megabytes == 8
    for threads in (1, 2):
        fo.set_num_threads(threads)
        assert 1e8 < probe.measure() < 1e13
    with pytest.raises(ValueError, match="megabytes must be > 0"):
        fo.BandwidthProbe(megabytes=0)
    with pytest.raises(TypeError, match="megabytes must be an int"):
        fo.BandwidthProbe(megabytes=1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_divider_rate_is_measured(dtype):
    # Elements per second through a square root and a division: far below a
    # core's clock rate times its widest vector, far above one a microsecond.
    assert 1e6 < fo.divider_rate(dtype, repeats=2) < 1e11


def test_divider_rate_refuses_other_dtypes_and_repeats():
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int32"):
        fo.divider_rate(np.int32)
    with pytest.raises(ValueError, match="repeats must be > 0"):
        fo.divider_rate(np.float32, repeats=0)


@pytest.mark.parametrize("threads", [1, 2])
def test_two_python_threads_step_two_optimizers(engine_settings, threads):
    fo.set_num_threads(threads)
    _core.set_parallel_threshold(0)
    _core.set_chunk_elements(1000)
    runs = [make_params(np.float32, SHAPES, seed=s) for s in (1, 2)]
    expected = [make_params(np.float32, SHAPES, seed=s) for s in (1, 2)]
    for params in expected:
        opt = fo.Adam(params, lr=0.01)
        for _ in range(40):
            opt.step(gradients(params))

    def train(params):
        opt = fo.Adam(params, lr=0.01)
        for _ in range(40):
            opt.step(gradients(params))

    workers = [threading.Thread(target=train, args=(p,)) for p in runs]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    for got, want in zip(runs, expected):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


def test_two_python_threads_step_one_optimizer_in_turn(engine_settings):
    """With a constant gradient, 2 x 30 steps from two threads equal 60 in a row."""
    _core.set_parallel_threshold(0)
    _core.set_chunk_elements(1000)
    shared = make_params(np.float64, SHAPES)
    alone = make_params(np.float64, SHAPES)
    grads = [np.full_like(p, 0.25) for p in shared]
    opt = fo.Adam(shared, lr=0.01)
    alone_opt = fo.Adam(alone, lr=0.01)
    for _ in range(60):
        alone_opt.step(grads)

    def train():
        for _ in range(30):
            opt.step(grads)

    workers = [threading.Thread(target=train) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert opt.state_dict()["state"][0]["step"] == 60
    for a, b in zip(shared, alone):
        np.testing.assert_array_equal(a, b)
