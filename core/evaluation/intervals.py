"""95% confidence intervals on a satisfaction percentage. Pure functions, no scipy.

``mean_score``: a t-interval on the respondents' scores, narrowed by the finite population
correction because the respondents are drawn from a known, small set of eligible students (a
class of 30 where 28 answered leaves little doubt). ``top_box``: the Wilson score interval,
which behaves at 0% and 100% where the normal approximation does not.
"""

from __future__ import annotations

import functools
import math

Z95 = 1.959963984540054


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / (c if abs(c) > tiny else tiny)
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / (c if abs(c) > tiny else tiny)
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t cumulative distribution function."""
    x = df / (df + t * t)
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


@functools.lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (bisection on the CDF;
    cached, as a school has only so many class sizes)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if df <= 0:
        raise ValueError("df must be positive")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0


def _clamp(value: float) -> float:
    return min(100.0, max(0.0, value))


def mean_interval(
    n: int, total: float, total_sq: float, population: int | None = None, level: float = 0.95
) -> tuple[float, float] | None:
    """t-interval for the mean of ``n`` scores given their sum and sum of squares (what a
    grouped SQL query returns), with the finite population correction for ``population``
    eligible students. None with fewer than two scores (no spread to estimate)."""
    if n < 2:
        return None
    mean = total / n
    # Sum of squares minus n·mean² can dip below zero by rounding when all scores are equal.
    var = max(0.0, (total_sq - n * mean * mean) / (n - 1))
    se = math.sqrt(var / n)
    if population is not None and population > 1:
        fpc = (population - n) / (population - 1) if population > n else 0.0
        se *= math.sqrt(fpc)
    half = t_quantile(0.5 + level / 2.0, n - 1) * se
    return _clamp(mean - half), _clamp(mean + half)


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval, as percentages, for ``successes`` out of ``n``; None when n == 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return _clamp(100.0 * (centre - half)), _clamp(100.0 * (centre + half))
