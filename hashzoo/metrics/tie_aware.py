"""Tie-aware expected metrics from per-distance counts (`tie_rule="expected"`).

See docs/evaluation.md, "Tie rules".

With Hamming distances whole groups of items tie. The tie-aware value of a
metric is its mean over every order of the items inside each tie group (He, Lu
& Sclaroff, CVPR 2018). McSherry & Najork (ECIR 2008) give closed forms that
need only, per query and per distance d, the number of items n_d and of
relevant items r_d, so nothing is sampled or enumerated.

For a tie group preceded by B items of which Rb are relevant, a relevant item
sits at group position i (uniform on 1..n) and, given that, each of the other
i - 1 positions holds a relevant item with probability (r - 1) / (n - 1). Its
expected precision is (Rb + 1 + (i - 1)(r - 1)/(n - 1)) / (B + i), and the
group adds r/n times the sum of that over i, a sum of harmonic differences.

AP@K divides by R^K, the relevant items inside the top K, which is random when
K cuts a tie group: of the m boundary items that enter the top K, X are
relevant, X hypergeometric(n, r, m). The expectation is therefore taken
exactly over X: E[AP@K] = sum_x P(X = x) (S_full + E[S_boundary | x]) / (Rb + x),
counting 0 for orders with no relevant item in the top K.
"""

import numpy as np

# Harmonic numbers below this are summed directly; above it the asymptotic
# expansion is used, accurate to about 1e-17 there.
_TABLE_SIZE = 64
_HARMONIC = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, _TABLE_SIZE + 1))))


def _asymptotic_tail(n):
    """H_n - ln(n) - gamma, for n >= _TABLE_SIZE."""
    inv = 1.0 / n
    inv2 = inv * inv
    return inv / 2 - inv2 / 12 + inv2 * inv2 / 120 - inv2 * inv2 * inv2 / 252


def harmonic_difference(upper, lower):
    """sum_{i = lower + 1}^{upper} 1 / i, element-wise, accurate to about 1e-15.

    Differences of a cumulative sum lose precision with N; this uses a table for
    small arguments and log1p plus the asymptotic expansion for large ones.

    Args:
        upper: int array, upper >= lower >= 0.
        lower: int array, same shape (or broadcastable).

    Returns:
        float64 array of the partial harmonic sums.
    """
    upper = np.asarray(upper, dtype=np.int64)
    lower = np.asarray(lower, dtype=np.int64)
    upper, lower = np.broadcast_arrays(upper, lower)
    out = np.empty(upper.shape, dtype=np.float64)
    small = upper <= _TABLE_SIZE
    out[small] = _HARMONIC[upper[small]] - _HARMONIC[lower[small]]
    big = ~small
    if big.any():
        hi = upper[big].astype(np.float64)
        lo_int = lower[big]
        lo = lo_int.astype(np.float64)
        both = lo_int >= _TABLE_SIZE
        value = np.empty(hi.shape)
        # Both large: ln(hi / lo) without cancellation, plus the tail terms.
        value[both] = np.log1p((hi[both] - lo[both]) / lo[both]) + (
            _asymptotic_tail(hi[both]) - _asymptotic_tail(lo[both])
        )
        # Lower in the table: H_hi from the expansion minus the tabled H_lo.
        rest = ~both
        value[rest] = (
            np.log(hi[rest]) + np.euler_gamma + _asymptotic_tail(hi[rest])
            - _HARMONIC[lo_int[rest]]
        )
        out[big] = value
    return out


def _prefix(hist):
    """Items strictly before each bucket (exclusive prefix sums), int64."""
    return np.cumsum(hist, axis=1) - hist


def _precision_sums(before, relevant_before, size, relevant, positions):
    """Expected sum of precisions of the relevant items among the first `positions`
    items of a tie group, given the group holds `relevant` of its `size` items.

    All arguments are broadcastable int arrays; positions <= size.
    """
    positions = np.asarray(positions)
    with np.errstate(divide="ignore", invalid="ignore"):
        h1 = harmonic_difference(before + positions, before)
        h2 = positions - (before + 1) * h1
        share = np.where(positions > 0, relevant / np.maximum(positions, 1), 0.0)
        pairs = np.where(positions > 1, (relevant - 1) / np.maximum(positions - 1, 1), 0.0)
        return np.where(relevant > 0, share * ((relevant_before + 1) * h1 + pairs * h2), 0.0)


def expected_hits(hist, hist_rel, depths):
    """Expected number of relevant items in the top k, for several depths k.

    Args:
        hist: int64 `[q, bits + 1]` items per distance.
        hist_rel: int64 `[q, bits + 1]` relevant items per distance.
        depths: int array `[G]`, each 1 <= k <= N.

    Returns:
        float64 `[q, G]`: relevant items before the boundary group plus
        m * r / n for the m boundary items that enter the top k.
    """
    depths = np.asarray(depths, dtype=np.int64)
    cum = np.cumsum(hist, axis=1)
    cum_rel = np.cumsum(hist_rel, axis=1)
    group = (cum[:, None, :] >= depths[None, :, None]).argmax(axis=2)
    take = np.take_along_axis
    size = take(hist, group, axis=1)
    before = take(cum, group, axis=1) - size
    rel = take(hist_rel, group, axis=1)
    rel_before = take(cum_rel, group, axis=1) - rel
    return rel_before + (depths[None, :] - before) * rel / size


def expected_average_precision(hist, hist_rel, k):
    """Tie-aware expected AP@k, per query.

    Args:
        hist: int64 `[q, bits + 1]` items per distance.
        hist_rel: int64 `[q, bits + 1]` relevant items per distance.
        k: depth, 1 <= k <= N.

    Returns:
        `(ap, reachable)`: float64 `[q]` expected AP@k (orders with no
        relevant item in the top k count 0), and int64 `[q]` the number of
        relevant items that some order puts in the top k (0 means the query
        has R^k = 0 under every order).
    """
    rows = np.arange(hist.shape[0])
    cum = np.cumsum(hist, axis=1)
    before = cum - hist
    rel_before = _prefix(hist_rel)
    group = (cum >= k).argmax(axis=1)

    full = np.arange(hist.shape[1])[None, :] < group[:, None]
    full_sums = _precision_sums(before, rel_before, hist, hist_rel, hist)
    s_full = np.where(full, full_sums, 0.0).sum(axis=1)

    n = hist[rows, group]
    r = hist_rel[rows, group]
    b = before[rows, group]
    rb = rel_before[rows, group]
    m = k - b
    x_lo = np.maximum(0, m - (n - r))
    x_hi = np.minimum(m, r)
    grid = np.arange(int((x_hi - x_lo).max()) + 1)
    x = x_lo[:, None] + grid[None, :]
    valid = x <= x_hi[:, None]

    # log P(X = x) up to a constant, by the ratio P(x + 1) / P(x).
    with np.errstate(divide="ignore", invalid="ignore"):
        step = (
            np.log(np.maximum(r[:, None] - x, 1)) + np.log(np.maximum(m[:, None] - x, 1))
            - np.log(x + 1.0) - np.log(np.maximum(n[:, None] - r[:, None] - m[:, None] + x + 1, 1))
        )
    log_p = np.zeros(x.shape)
    log_p[:, 1:] = np.cumsum(step[:, :-1], axis=1)
    log_p = np.where(valid, log_p, -np.inf)
    p = np.exp(log_p - log_p.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)

    h1 = harmonic_difference(b + m, b)[:, None]
    h2 = m[:, None] - (b[:, None] + 1) * h1
    with np.errstate(divide="ignore", invalid="ignore"):
        pairs = np.where(m[:, None] > 1, (x - 1) / np.maximum(m[:, None] - 1, 1), 0.0)
        s_boundary = (x / m[:, None]) * ((rb[:, None] + 1) * h1 + pairs * h2)
        denom = rb[:, None] + x
        ap_given_x = np.where(denom > 0, (s_full[:, None] + s_boundary) / np.maximum(denom, 1), 0.0)
    ap = np.where(valid, p * ap_given_x, 0.0).sum(axis=1)
    return ap, rb + r
