"""save and load: one .npz file, written atomically, resuming bit for bit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastoptim as fo
from conftest import CASES, case_params, dtype_params, gradients, make_params
from fastoptim import reference


def steps(opt, params, count):
    for _ in range(count):
        opt.step(gradients(params))


def scheduled(hyper):
    return dict(hyper, lr=fo.schedules.CosineAnnealing(hyper["lr"], T_max=12))


@case_params()
@dtype_params
def test_save_then_load_resumes_exactly(tmp_path, native, ref, hyper, dtype):
    hyper = scheduled(hyper)
    straight = make_params(dtype)
    steps(native(straight, **hyper), straight, 20)

    first = make_params(dtype)
    opt = native(first, **hyper)
    steps(opt, first, 8)
    opt.save(tmp_path / "opt.npz")
    resumed = [p.copy() for p in first]
    resumed_opt = native(resumed, **dict(hyper, lr=0.5))
    resumed_opt.load(tmp_path / "opt.npz")
    steps(resumed_opt, resumed, 12)

    assert isinstance(resumed_opt.param_groups[0]["lr"], fo.schedules.CosineAnnealing)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)


def test_file_is_plain_numpy_without_pickle(tmp_path):
    params = make_params(np.float32, [(3,), (2, 2)])
    opt = fo.Adam(params, lr=0.01, amsgrad=True)
    steps(opt, params, 3)
    opt.save(tmp_path / "adam.npz")

    with np.load(tmp_path / "adam.npz", allow_pickle=False) as data:
        assert str(data["optimizer"]) == "Adam"
        assert int(data["step"]) == 3
        np.testing.assert_array_equal(
            data["state/1/exp_avg"], opt.state_dict()["state"][1]["exp_avg"]
        )


RESUME = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import fastoptim as fo
    sys.path.insert(0, {tests!r})
    from conftest import gradients

    for tag, name, hyper in json.load(open({jobs!r})):
        with np.load(f"{folder}/{{tag}}-params.npz") as saved:
            params = [saved[f"arr_{{i}}"] for i in range(len(saved.files))]
        # Built with a plain learning rate: the checkpoint brings back the schedule.
        opt = getattr(fo, name)(params, **hyper)
        opt.load(f"{folder}/{{tag}}.npz")
        for _ in range(7):
            opt.step(gradients(params))
        np.savez(f"{folder}/{{tag}}-out.npz", *params)
    """
)


def test_a_new_process_resumes_every_optimizer_exactly(tmp_path):
    """N steps, save; a new process builds, loads, takes M: as N + M in one run."""
    jobs = []
    expected = {}
    for name, native, _, hyper in CASES:
        for dtype in (np.float32, np.float64):
            tag = f"{name}-{np.dtype(dtype).name}"
            with_schedule = scheduled(hyper)
            straight = make_params(dtype)
            steps(native(straight, **with_schedule), straight, 12)
            expected[tag] = straight

            first = make_params(dtype)
            opt = native(first, **with_schedule)
            steps(opt, first, 5)
            opt.save(tmp_path / f"{tag}.npz")
            np.savez(tmp_path / f"{tag}-params.npz", *first)
            jobs.append((tag, native.__name__, hyper))
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    script = RESUME.format(
        tests=os.path.dirname(__file__),
        jobs=str(tmp_path / "jobs.json"),
        folder=str(tmp_path),
    )

    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)

    for tag, want in expected.items():
        with np.load(tmp_path / f"{tag}-out.npz") as out:
            for index, value in enumerate(want):
                np.testing.assert_array_equal(out[f"arr_{index}"], value, err_msg=tag)


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    params = make_params(np.float64, [(4,)])
    opt = fo.Adam(params, lr=0.1)
    steps(opt, params, 2)
    opt.save(tmp_path / "opt.npz")
    before = (tmp_path / "opt.npz").read_bytes()
    steps(opt, params, 2)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        opt.save(tmp_path / "opt.npz")

    assert (tmp_path / "opt.npz").read_bytes() == before
    assert os.listdir(tmp_path) == ["opt.npz"]


def snapshot(opt, params):
    state = opt.state_dict()
    arrays = {
        (index, name): np.copy(value)
        for index, entry in state["state"].items()
        for name, value in entry.items()
    }
    return [p.copy() for p in params], arrays, state["step"]


def assert_same_snapshot(a, b):
    for x, y in zip(a[0], b[0]):
        np.testing.assert_array_equal(x, y)
    assert a[1].keys() == b[1].keys()
    for key in a[1]:
        np.testing.assert_array_equal(a[1][key], b[1][key])
    assert a[2] == b[2]


def saved(tmp_path, cls=fo.Adam, shapes=((4,), (3,)), **hyper):
    params = make_params(np.float32, list(shapes))
    opt = cls(params, lr=0.1, **hyper)
    steps(opt, params, 2)
    opt.save(tmp_path / "opt.npz")
    return tmp_path / "opt.npz"


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def corrupt(path):
    data = bytearray(path.read_bytes())
    data[100:200] = b"\xff" * 100
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "spoil, build, message",
    [
        (truncate, lambda p: fo.Adam(p, lr=0.1), "cannot read checkpoint"),
        (corrupt, lambda p: fo.Adam(p, lr=0.1), "cannot read checkpoint|bad|has no"),
        (lambda path: None, lambda p: fo.SGD(p, lr=0.1), "holds the state of Adam"),
        (lambda path: None, lambda p: fo.Adam(p[:1], lr=0.1), "2 parameters in state"),
        (
            lambda path: path.write_bytes(b"not a zip file"),
            lambda p: fo.Adam(p, lr=0.1),
            "cannot read checkpoint",
        ),
    ],
    ids=["truncated", "corrupted", "other-optimizer", "other-count", "not-npz"],
)
def test_a_bad_file_is_refused_and_changes_nothing(tmp_path, spoil, build, message):
    path = saved(tmp_path)
    spoil(path)
    opt = build(make_params(np.float32, [(4,), (3,)], seed=7))
    params = [p for group in opt.param_groups for p in group["params"]]
    steps(opt, params, 1)
    before = snapshot(opt, params)

    with pytest.raises(ValueError, match=message):
        opt.load(path)

    assert_same_snapshot(snapshot(opt, params), before)


def test_another_shape_is_refused_and_changes_nothing(tmp_path):
    path = saved(tmp_path)
    params = make_params(np.float32, [(4,), (5,)])
    opt = fo.Adam(params, lr=0.1)
    before = snapshot(opt, params)
    with pytest.raises(ValueError, match=r"state\[1\]\['exp_avg'\] has dtype float32"):
        opt.load(path)
    assert_same_snapshot(snapshot(opt, params), before)


def test_a_callable_lr_cannot_be_saved(tmp_path):
    opt = fo.SGD([np.zeros(2)], lr=lambda t: 0.1)
    with pytest.raises(TypeError, match=r"param_groups\[0\]\['lr'\] is a callable"):
        opt.save(tmp_path / "opt.npz")
    assert not os.listdir(tmp_path)


def test_reference_and_native_read_each_others_files(tmp_path):
    native_params = make_params(np.float64)
    ref_params = make_params(np.float64)
    opt = fo.AdamW(native_params, lr=0.01)
    ref_opt = reference.AdamW(ref_params, lr=reference.schedules.StepDecay(0.01, 4))
    steps(opt, native_params, 3)
    steps(ref_opt, ref_params, 3)
    opt.save(tmp_path / "native.npz")
    ref_opt.save(tmp_path / "reference.npz")

    ref_opt.load(tmp_path / "native.npz")
    opt.load(tmp_path / "reference.npz")

    assert ref_opt.state_dict()["step"] == opt.state_dict()["step"] == 3
    assert isinstance(opt.param_groups[0]["lr"], reference.schedules.StepDecay)
