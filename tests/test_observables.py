"""Observables with blocked-jackknife errors (wsgm.metrics.observables) against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wsgm.errors import WSGMError
from wsgm.metrics.observables import OBSERVABLES, compare, field_observables
from wsgm.metrics.physics import binder_cumulant, susceptibility


def _fields(n: int, seed: int, *, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    signs = rng.choice([-1.0, 1.0], size=(n, 1, 1))
    return signs * (0.6 + shift) + 0.3 * rng.standard_normal((n, 4, 4))


def test_values_are_the_physics_estimators() -> None:
    x = _fields(300, 0)
    est = field_observables(x, blocks=30)
    assert np.isclose(est["phi2"].value, (x.astype(np.float64) ** 2).mean())
    assert np.isclose(est["abs_m"].value, np.abs(x.mean(axis=(1, 2))).mean())
    assert np.isclose(est["binder_u4"].value, binder_cumulant(x))
    assert np.isclose(est["chi"].value, susceptibility(x))


@pytest.mark.parametrize(
    "name, per_sample",
    [
        ("phi2", lambda x: (x**2).mean(axis=(1, 2))),
        ("abs_m", lambda x: np.abs(x.mean(axis=(1, 2)))),
    ],
)
def test_delete_one_jackknife_of_a_mean_is_its_textbook_error(name: str, per_sample) -> None:
    # For a mean, the delete-one jackknife equals s/sqrt(n) with the (n-1)-normalized s.
    x = _fields(50, 1)
    v = per_sample(x)
    est = field_observables(x, blocks=50)[name]
    assert np.isclose(est.se, v.std(ddof=1) / math.sqrt(len(v)), rtol=1e-10)


def test_binder_limits_and_error_calibration() -> None:
    rng = np.random.default_rng(2)
    # m Gaussian -> U4 = 0; m = ±c exactly -> U4 = 2/3 with zero error.
    gauss = field_observables(rng.standard_normal((4000, 2, 2)), blocks=40)["binder_u4"]
    assert abs(gauss.value) < 4 * gauss.se and gauss.se < 0.05
    two = field_observables(np.sign(rng.standard_normal((100, 1, 1))) * np.ones((100, 3, 3)))
    assert np.isclose(two["binder_u4"].value, 2 / 3) and two["binder_u4"].se < 1e-12
    # Across independent batches the spread of U4 and chi matches the jackknife error.
    draws = [field_observables(_fields(400, s), blocks=40) for s in range(40)]
    for name in ("binder_u4", "chi"):
        values = np.array([d[name].value for d in draws])
        mean_se = np.mean([d[name].se for d in draws])
        assert 0.7 < values.std(ddof=1) / mean_se < 1.4, name


def test_compare_flags_a_shift_and_passes_a_twin() -> None:
    same = compare(field_observables(_fields(2000, 3)), field_observables(_fields(2000, 4)))
    assert [r.name for r in same] == list(OBSERVABLES)
    assert all(abs(r.z) < 4 for r in same)
    moved = compare(
        field_observables(_fields(2000, 5, shift=0.05)), field_observables(_fields(2000, 4))
    )
    by = {r.name: r for r in moved}
    assert by["abs_m"].z > 5 and not by["abs_m"].within(2.0) and by["phi2"].difference > 0


@pytest.mark.parametrize(
    "fields, blocks, match",
    [
        (np.zeros((1, 4, 4)), 8, "at least 2 samples"),
        (np.zeros((5, 4)), 8, "shape"),
        (np.zeros((5, 4, 4)), 8, "zero magnetization"),
        (np.full((5, 4, 4), np.nan), 8, "NaN"),
        (np.ones((5, 4, 4)), 1, "blocks must be an integer >= 2, got 1"),
        (np.ones((5, 4, 4)), 2.5, "blocks must be"),
    ],
)
def test_bad_input(fields: np.ndarray, blocks, match: str) -> None:
    with pytest.raises(WSGMError, match=match):
        field_observables(fields, blocks=blocks)
