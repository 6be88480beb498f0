"""Property tests: random shapes, dtypes, settings, groups and step counts."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastoptim as fo
from fastoptim import reference

shapes = st.lists(
    st.one_of(
        st.just(()),
        st.tuples(st.integers(0, 40)),
        st.tuples(st.integers(1, 7), st.integers(1, 9)),
        st.tuples(st.integers(2000, 4000)),
    ),
    min_size=1,
    max_size=5,
)
unit = st.floats(0.0, 0.999)
rates = st.floats(1e-5, 0.5)

hyperparameters = st.one_of(
    st.builds(
        lambda lr, momentum, dampening, nesterov, wd, maximize: (
            "SGD",
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": 0.0 if nesterov else dampening,
                "nesterov": nesterov and momentum > 0,
                "weight_decay": wd,
                "maximize": maximize,
            },
        ),
        rates,
        unit,
        st.floats(0.0, 1.0),
        st.booleans(),
        st.floats(0.0, 0.1),
        st.booleans(),
    ),
    st.builds(
        lambda lr, gamma, nesterov: (
            "Momentum",
            {"lr": lr, "gamma": gamma, "nesterov": nesterov},
        ),
        rates,
        unit,
        st.booleans(),
    ),
    st.builds(
        lambda name, lr, b1, b2, eps, wd, amsgrad, maximize: (
            name,
            {
                "lr": lr,
                "betas": (b1, b2),
                "eps": eps,
                "weight_decay": wd,
                "amsgrad": amsgrad,
                "maximize": maximize,
            },
        ),
        st.sampled_from(["Adam", "AdamW"]),
        rates,
        unit,
        unit,
        st.floats(1e-12, 1e-3),
        st.floats(0.0, 0.1),
        st.booleans(),
        st.booleans(),
    ),
)


def build(module, name, params, hyper, split):
    groups = [{"params": params[:split]}, {"params": params[split:]}]
    groups = [g for g in groups if g["params"]]
    return getattr(module, name)(groups, **hyper)


def run(opt, params, count, seed):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        grads = [
            np.asarray(rng.standard_normal(p.shape) + np.sin(p), dtype=p.dtype)
            for p in params
        ]
        opt.step(grads)


common = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@common
@given(
    shapes=shapes,
    dtype=st.sampled_from([np.float32, np.float64]),
    algorithm=hyperparameters,
    split=st.integers(0, 5),
    count=st.integers(1, 30),
    seed=st.integers(0, 2**16),
)
def test_native_matches_reference(shapes, dtype, algorithm, split, count, seed):
    name, hyper = algorithm
    rng = np.random.default_rng(seed)
    start = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in shapes]
    native = [p.copy() for p in start]
    ref = [p.copy() for p in start]

    run(build(fo, name, native, hyper, split), native, count, seed)
    run(build(reference, name, ref, hyper, split), ref, count, seed)

    for a, b in zip(native, ref):
        np.testing.assert_array_equal(a, b)


@common
@given(
    shapes=shapes,
    dtype=st.sampled_from([np.float32, np.float64]),
    algorithm=hyperparameters,
    split=st.integers(0, 5),
    before=st.integers(0, 15),
    after=st.integers(1, 15),
    seed=st.integers(0, 2**16),
)
def test_resuming_from_a_checkpoint_matches_an_uninterrupted_run(
    tmp_path_factory, shapes, dtype, algorithm, split, before, after, seed
):
    name, hyper = algorithm
    rng = np.random.default_rng(seed)
    start = [np.asarray(rng.standard_normal(s), dtype=dtype) for s in shapes]
    straight = [p.copy() for p in start]
    straight_opt = build(fo, name, straight, hyper, split)
    run(straight_opt, straight, before, seed)
    run(straight_opt, straight, after, seed + 1)

    first = [p.copy() for p in start]
    opt = build(fo, name, first, hyper, split)
    run(opt, first, before, seed)
    path = tmp_path_factory.mktemp("checkpoint") / "opt.npz"
    opt.save(path)
    resumed = [p.copy() for p in first]
    resumed_opt = build(fo, name, resumed, hyper, split)
    resumed_opt.load(path)
    run(resumed_opt, resumed, after, seed + 1)

    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(a, b)
