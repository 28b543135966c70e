"""Confidence intervals: t quantiles against published table values, the finite population
correction, Wilson's interval against hand-worked values."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from core.evaluation.intervals import mean_interval, t_cdf, t_quantile, wilson_interval


@pytest.mark.parametrize(
    ("df", "value"),
    # two-sided 95% critical values from any t table
    [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (29, 2.045), (120, 1.980), (1000, 1.962)],
)
def test_t_quantile_matches_table(df, value):
    assert t_quantile(0.975, df) == pytest.approx(value, abs=1e-3)


def test_t_cdf_is_symmetric():
    assert t_cdf(0.0, 7) == pytest.approx(0.5)
    assert t_cdf(-1.3, 7) == pytest.approx(1 - t_cdf(1.3, 7))
    assert t_quantile(0.025, 12) == pytest.approx(-t_quantile(0.975, 12))


def _sums(scores):
    return len(scores), sum(scores), sum(s * s for s in scores)


def test_mean_interval_equals_textbook_formula():
    rng = random.Random(7)
    scores = [rng.choice([0, 60, 80, 100]) for _ in range(25)]
    n, total, sq = _sums(scores)
    mean, sd = statistics.fmean(scores), statistics.stdev(scores)
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    low, high = mean_interval(n, total, sq)
    assert low == pytest.approx(max(0, mean - half))
    assert high == pytest.approx(min(100, mean + half))


def test_finite_population_correction_narrows_the_interval():
    scores = [100, 80, 60, 80, 100, 60, 80, 80]
    n, total, sq = _sums(scores)
    wide = mean_interval(n, total, sq, population=10_000)
    narrow = mean_interval(n, total, sq, population=10)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    fpc = math.sqrt((10 - 8) / (10 - 1))
    assert (narrow[1] - narrow[0]) == pytest.approx((wide[1] - wide[0]) * fpc, rel=1e-3)


def test_everyone_answered_leaves_no_doubt():
    scores = [100, 60, 80]
    low, high = mean_interval(*_sums(scores), population=3)
    assert low == pytest.approx(80) and high == pytest.approx(80)


def test_identical_scores_and_too_few():
    assert mean_interval(*_sums([80, 80, 80])) == pytest.approx((80, 80))
    assert mean_interval(*_sums([80])) is None
    assert mean_interval(0, 0, 0) is None


def test_interval_stays_within_percent_range():
    low, high = mean_interval(*_sums([100, 100, 100, 0]))
    assert low == 0.0 and high == 100.0


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    # worked by hand from Wilson (1927), z = 1.96
    [(8, 10, 49.0, 94.33), (0, 10, 0.0, 27.75), (10, 10, 72.25, 100.0), (50, 100, 40.38, 59.62)],
)
def test_wilson(k, n, low, high):
    got = wilson_interval(k, n)
    assert got[0] == pytest.approx(low, abs=0.02)
    assert got[1] == pytest.approx(high, abs=0.02)


def test_wilson_rejects_bad_counts():
    assert wilson_interval(0, 0) is None
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
