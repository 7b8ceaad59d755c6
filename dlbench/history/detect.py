"""Change points in one series: E-Divisive means with a t-test, as Apache Otava does.

The search is E-Divisive (Matteson & James, "A Nonparametric Approach for Multiple Change
Point Analysis of Multivariate Data", JASA 109 (2014), doi:10.1080/01621459.2013.849605):
the split that maximises the energy statistic

    Q(X, Y) = 2/(n+m) Σ|X_i - Y_j| - 2m/((n+m)(n-1)) Σ_{i<k}|X_i - X_k|
              - 2n/((n+m)(m-1)) Σ_{j<k}|Y_j - Y_k|

over every left part X = Z[s:τ] (n points) and right part Y = Z[τ:κ] (m points) of a
segment Z[s:e], taken over all segments, is the next candidate. Its significance is a
two-sided Student t-test between the two sides of the split, not Matteson & James'
permutation test: Otava's (formerly Hunter's) choice (Fleming et al., "Hunter: Using
Change Point Detection to Hunt for Performance Regressions", ICPE 2023,
doi:10.1145/3578244.3583719), deterministic and fast. The first candidate that is not
significant ends the search. Then, as Otava's merge step, each change point is tested again
between its neighbouring change points, and the weakest that fails is dropped until all
pass. Written here from the papers; no code is taken from either project.

Each step is exact arithmetic on a small series (a history of hundreds of runs): the pair
sums come from one 2-D prefix sum of |Z_i - Z_j|, so a segment of N points costs O(N²).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dlbench import stats

# Otava's default significance level for a change point.
DEFAULT_MAX_P = 0.001
# The fewest points on each side of a change: one or two points out of line are an
# outlier, not a new level. A change is reported once this many runs show it.
DEFAULT_MIN_SIZE = 3
# A significance test of two samples: their p-value.
Test = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class ChangePoint:
    """A new level from `index` on (the first point of the new segment); `p` is the t-test
    between the segments on either side, bounded by the neighbouring change points."""

    index: int
    p: float


def student_t_p(t: float, df: int) -> float:
    """Two-sided p-value of Student's t with `df` degrees of freedom (an integer): the
    closed forms of Abramowitz & Stegun, *Handbook of Mathematical Functions*, 26.7.3
    (odd df) and 26.7.4 (even df), A(t|ν) = P(|T| <= t); p = 1 - A."""
    if df < 1:
        raise ValueError(f"a t-test needs at least 1 degree of freedom, got {df}")
    if math.isnan(t):
        return 1.0
    if math.isinf(t):
        return 0.0
    theta = math.atan(abs(t) / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 0:
        term = total = 1.0
        for k in range(1, (df - 2) // 2 + 1):  # (1·3···(2k-1))/(2·4···2k) cos^2k
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        inside = s * total
    elif df == 1:
        inside = 2.0 * theta / math.pi
    else:
        term = total = math.cos(theta)
        for k in range(1, (df - 3) // 2 + 1):  # (2·4···2k)/(3·5···(2k+1)) cos^(2k+1)
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        inside = 2.0 / math.pi * (theta + s * total)
    return min(1.0, max(0.0, 1.0 - inside))


def t_test(left: np.ndarray, right: np.ndarray) -> float:
    """Two-sided Student t-test (pooled variance) of two samples' means: the p-value."""
    n1, n2 = left.size, right.size
    df = n1 + n2 - 2
    if n1 == 0 or n2 == 0 or df < 1:
        return 1.0
    diff = float(right.mean() - left.mean())
    ss = float(((left - left.mean()) ** 2).sum() + ((right - right.mean()) ** 2).sum())
    if ss == 0.0:
        # Both sides constant: a change of level is certain, no change is certainly none.
        return 0.0 if diff != 0.0 else 1.0
    se = math.sqrt(ss / df * (1.0 / n1 + 1.0 / n2))
    return student_t_p(diff / se, df)


def u_test(left: np.ndarray, right: np.ndarray) -> float:
    """Two-sided Mann-Whitney U test (dlbench.stats): robust to runs slowed by a disturbance,
    but its normal approximation cannot reach p = 0.001 with fewer than 5 runs on a side."""
    return stats.mann_whitney_u(right, left)[1]


# The significance tests `history --test` offers: "t" is Otava's.
TESTS: dict[str, Test] = {"t": t_test, "u": u_test}


def best_split(z: np.ndarray, min_size: int) -> tuple[int, float] | None:
    """(τ, Q) of the split of `z` maximising the energy statistic over every right end κ,
    with at least `min_size` points on each side; None when `z` is too short."""
    n_total = z.size
    if n_total < 2 * min_size:
        return None
    d = np.abs(z[:, None] - z[None, :])
    p = np.zeros((n_total + 1, n_total + 1))
    p[1:, 1:] = d.cumsum(axis=0).cumsum(axis=1)

    def block(a1: np.ndarray, a2: np.ndarray, b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
        return p[a2, b2] - p[a1, b2] - p[a2, b1] + p[a1, b1]

    tau = np.arange(min_size, n_total - min_size + 1)[:, None]
    kappa = np.arange(2 * min_size, n_total + 1)[None, :]
    n = tau.astype(np.float64)
    m = (kappa - tau).astype(np.float64)
    valid = m >= min_size
    zero = np.zeros_like(tau)
    cross = block(zero, tau, tau, kappa)
    within_left = block(zero, tau, zero, tau) / 2.0
    within_right = block(tau, kappa, tau, kappa) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (2.0 / (n + m) * cross
             - np.where(n > 1, 2.0 * m / ((n + m) * (n - 1)), 0.0) * within_left
             - np.where(m > 1, 2.0 * n / ((n + m) * (m - 1)), 0.0) * within_right)
    q = np.where(valid, q, -np.inf)
    i, j = np.unravel_index(int(np.argmax(q)), q.shape)
    if not np.isfinite(q[i, j]):
        return None
    return int(tau[i, 0]), float(q[i, j])


def detect(values: Sequence[float], max_p: float = DEFAULT_MAX_P,
           min_size: int = DEFAULT_MIN_SIZE, test: Test | None = None) -> list[ChangePoint]:
    """The change points of `values` (in order), each significant at `max_p` between its
    neighbours by `test` (default the t-test). Values are compared as given: pass log
    times to find relative changes."""
    test = test or t_test
    z = np.asarray(values, dtype=np.float64)
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, got {min_size}")
    if not np.all(np.isfinite(z)):
        raise ValueError("change points need finite values")
    found: list[int] = []
    while True:
        bounds = [0, *found, z.size]
        candidates = []
        for start, end in zip(bounds, bounds[1:], strict=False):
            split = best_split(z[start:end], min_size)
            if split is not None:
                candidates.append((split[1], start + split[0], start, end))
        if not candidates:
            break
        _, index, start, end = max(candidates)
        if test(z[start:index], z[index:end]) > max_p:
            break
        found = sorted([*found, index])
    return merge(z, found, max_p, test)


def merge(z: np.ndarray, found: list[int], max_p: float, test: Test = t_test
          ) -> list[ChangePoint]:
    """Each change point tested between its neighbours; the weakest that fails is dropped
    (which changes its neighbours' segments) until every one passes."""
    points = list(found)
    while True:
        bounds = [0, *points, z.size]
        tested = [ChangePoint(index, test(z[bounds[i]:index], z[index:bounds[i + 2]]))
                  for i, index in enumerate(points)]
        weakest = max(tested, key=lambda c: c.p, default=None)
        if weakest is None or weakest.p <= max_p:
            return tested
        points.remove(weakest.index)
