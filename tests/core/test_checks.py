"""The numeric validation helpers (datamap.core.checks)."""

import math

import numpy as np
import pytest

from datamap.core.checks import check_fraction, check_int, check_number


def test_check_fraction_bounds_and_conversion():
    assert check_fraction(0, "f") == 0.0 and isinstance(check_fraction(0, "f"), float)
    assert check_fraction(1, "f") == 1.0
    assert check_fraction(np.float32(0.25), "f") == 0.25
    assert check_fraction(0.5, "f", low_inclusive=False) == 0.5
    assert check_fraction(1.0, "f", low_inclusive=False) == 1.0
    with pytest.raises(ValueError, match=r"^data_pct must be a fraction in \(0, 1\], got 0$"):
        check_fraction(0, "data_pct", low_inclusive=False)
    with pytest.raises(ValueError, match=r"^f must be a fraction in \[0, 1\), got 1\.0$"):
        check_fraction(1.0, "f", high_inclusive=False)
    for bad in (-0.1, 1.0000001, math.nan, math.inf, -math.inf, "0.5", None, True, [0.5]):
        with pytest.raises(ValueError, match=r"^ambiguous must be a fraction in \[0, 1\], got "):
            check_fraction(bad, "ambiguous")
    with pytest.raises(ValueError, match=r"in \[0\.2, 0\.8\]"):
        check_fraction(0.9, "x", low=0.2, high=0.8)


def test_check_number_finite_and_bounds():
    assert check_number(3, "lr") == 3.0 and isinstance(check_number(3, "lr"), float)
    assert check_number(-1e300, "x") == -1e300
    assert check_number(0.0, "alpha", low=0.0) == 0.0
    with pytest.raises(ValueError, match=r"^alpha must be a finite number > 0, got 0\.0$"):
        check_number(0.0, "alpha", low=0.0, low_inclusive=False)
    with pytest.raises(ValueError, match=r"^sigma must be a finite number >= 0, got -1$"):
        check_number(-1, "sigma", low=0)
    with pytest.raises(ValueError, match=r"^x must be a finite number < 2, got 2$"):
        check_number(2, "x", high=2, high_inclusive=False)
    with pytest.raises(ValueError, match=r"^x must be a finite number in \[-1, 1\], got 1\.5$"):
        check_number(1.5, "x", low=-1, high=1)
    for bad in (math.nan, math.inf, -math.inf, np.float64("nan"), "1", None, False):
        with pytest.raises(ValueError, match=r"^x must be a finite number, got "):
            check_number(bad, "x")


def test_check_int():
    assert check_int(3, "epochs") == 3 and isinstance(check_int(np.int64(3), "epochs"), int)
    assert check_int(3.0, "epochs") == 3  # an integral float is an integer
    assert check_int(-2, "entropy_epoch", low=-3, high=2) == -2
    with pytest.raises(ValueError, match=r"^burn_out must be an integer in \[1, 3\], got 4$"):
        check_int(4, "burn_out", low=1, high=3)
    with pytest.raises(ValueError, match=r"^n_bins must be an integer >= 1, got 0$"):
        check_int(0, "n_bins", low=1)
    with pytest.raises(ValueError, match=r"^k must be an integer <= 5, got 6$"):
        check_int(6, "k", high=5)
    for bad in (1.5, math.nan, math.inf, "3", None, True, np.bool_(True)):
        with pytest.raises(ValueError, match=r"^k must be an integer, got "):
            check_int(bad, "k")


def test_messages_are_one_line():
    for call in (lambda: check_int("a\nb", "k"), lambda: check_fraction(2, "f"), lambda: check_number(math.nan, "x")):
        with pytest.raises(ValueError) as e:
            call()
        assert "\n" not in str(e.value)


def test_one_fraction_rule_for_regions_selections_and_noise():
    """0.29 of 100 is 29 everywhere (regions used int(f*N) = 28 and noise rounded halves up)."""
    import pandas as pd

    from datamap.core.checks import fraction_count
    from datamap.core.noise import flip_uniform
    from datamap.core.regions import region_indices
    from datamap.core.selection import Recipe, select

    assert fraction_count(0.29, 100) == 29 and fraction_count(0.25, 10) == 2 and fraction_count(1.0, 7) == 7
    rng = np.random.default_rng(0)
    conf, var = rng.random(100), rng.random(100) / 2
    assert {k: len(v) for k, v in region_indices(conf, var, fraction=0.29).items()} == {
        "easy": 29, "ambiguous": 29, "hard": 29}
    table = pd.DataFrame({"id": [str(i) for i in range(100)], "confidence": conf, "variability": var})
    assert len(select(table, Recipe(ambiguous=0.29)).indices) == 29
    assert flip_uniform(np.arange(100) % 2, 2, rate=0.29, seed=0)[1].sum() == 29
    assert flip_uniform(np.arange(10) % 2, 2, rate=0.25, seed=0)[1].sum() == 2
