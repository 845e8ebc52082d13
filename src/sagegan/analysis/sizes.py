"""Size-distribution statistics: summary numbers and a log-normal fit."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

SUMMARY_KEYS = ("n", "mean", "median", "sd", "d10", "d50", "d90", "min", "max")


def size_summary(values: np.ndarray) -> dict[str, float | int | None]:
    """Count, mean, median, sample sd, D10/D50/D90 (percentiles), min and max of ``values``;
    None where undefined (no values; sd of a single value)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    n = int(values.size)
    if n == 0:
        return {key: (0 if key == "n" else None) for key in SUMMARY_KEYS}
    d10, d50, d90 = np.percentile(values, [10, 50, 90])
    return {
        "n": n,
        "mean": float(values.mean()),
        "median": float(np.median(values)),
        "sd": float(values.std(ddof=1)) if n > 1 else None,
        "d10": float(d10),
        "d50": float(d50),
        "d90": float(d90),
        "min": float(values.min()),
        "max": float(values.max()),
    }


@dataclass(frozen=True)
class LogNormalFit:
    """Maximum-likelihood log-normal fit: ln(x) ~ N(mu, sigma^2).

    ``median`` = exp(mu) and ``geometric_sd`` = exp(sigma) are in the values' unit and ratio; the
    Kolmogorov-Smirnov statistic and p-value test the fit against the data it was fitted to, so
    the p-value is optimistic (Lilliefors): read it as a goodness-of-fit indication only.
    """

    n: int
    mu: float
    sigma: float
    median: float
    geometric_sd: float
    mean: float
    ks_statistic: float
    ks_pvalue: float

    def pdf(self, x: np.ndarray) -> np.ndarray:
        """Probability density at ``x``."""
        return stats.lognorm.pdf(x, self.sigma, scale=self.median)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def fit_lognormal(values: np.ndarray) -> LogNormalFit | None:
    """Fit a log-normal to the positive finite ``values``; None with fewer than 3 of them or no
    spread."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < 3:
        return None
    logs = np.log(values)
    mu, sigma = float(logs.mean()), float(logs.std(ddof=0))
    if sigma <= 0:
        return None
    test = stats.kstest(values, "lognorm", args=(sigma, 0.0, math.exp(mu)))
    return LogNormalFit(
        n=int(values.size),
        mu=mu,
        sigma=sigma,
        median=math.exp(mu),
        geometric_sd=math.exp(sigma),
        mean=math.exp(mu + sigma**2 / 2),
        ks_statistic=float(test.statistic),
        ks_pvalue=float(test.pvalue),
    )
