"""A three-valued semantic similarity S in {-1, 0, +1}, built from frozen features and served in batch blocks.

Two rules, each computed once from the unit feature rows f_i, and their
combination (docs/spah.md, "The semantic similarity matrix"):

- **Feature similarity** S^f (`feature_thresholds`): the cosine distances
  d_ij = 1 - cos(f_i, f_j) of all pairs i < j are histogrammed (bins
  `bin_width` wide over [0, `max_distance`]); m is the left edge of the
  fullest bin, sigma_l (sigma_r) the root mean square of d - m over the
  distances d <= m (d > m). Pairs with d < m - 2 sigma_l are +1, pairs with
  d > m + 2 sigma_r are -1, all others 0; the diagonal is +1. Computing the
  thresholds takes two passes over row blocks; S^f itself depends only on
  d_ij, so it is never stored: a block is one matmul of stored features.
- **Neighbour similarity** S^n (`neighbour_similarity`): +1 when j is among
  the k cosine nearest neighbours of i or i among those of j, or when their
  neighbour lists overlap in at least tau * k items (`rule="overlap"`); or
  BGAN's K1/K2 shared-neighbour positives (`rule="shared"`). Every other
  pair reads `neighbour_absent`: 0 (`"unknown"`: the rule only asserts
  positives) or -1 (`"dissimilar"`: as BGAN reads its K-NN matrix). Stored
  sparse (`SparseSimilarity`).
- **Combination** (`combine`): `"union"` (S^f = +1 or S^n = +1 gives +1,
  except that S^f = -1 with S^n = +1 is a conflict and gives 0; -1 where
  one rule says -1 and the other does not say +1), `"intersection"` (+1 only
  when both say +1, -1 where either says -1), or one rule alone
  (`"feature"`, `"neighbour"`).

`SemanticSimilarity` holds the unit features, the thresholds and S^n; its
`block` (numpy) and `tf_block_fn` (inside `tf.data`) return `S[rows][:, cols]`
without ever forming the N x N matrix, so it plugs into
`hashzoo.data.make_similarity_dataset` like a `SparseSimilarity`.

Example:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> features = rng.normal(size=(120, 16))
>>> features[:60, 0] += 2.0
>>> s = semantic_similarity(features, k=5)
>>> dense = s.dense()
>>> bool((dense == dense.T).all()), bool((np.diag(dense) == 1).all()), sorted(np.unique(dense).tolist())
(True, True, [-1.0, 0.0, 1.0])
"""

import dataclasses
import math

import numpy as np

from hashzoo.similarity.neighbours import cosine_knn, knn_indicator, shared_neighbour_similarity, unit_rows
from hashzoo.similarity.sparse import SparseSimilarity
from hashzoo.utils.validation import check_choice, check_non_negative_float, check_positive_int

BIN_WIDTH = 0.01
MAX_DISTANCE = 2.0
COMBINATIONS = ("union", "intersection", "feature", "neighbour")
NEIGHBOUR_RULES = ("overlap", "shared")
NEIGHBOUR_ABSENT = ("unknown", "dissimilar")


# -- feature similarity -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DistanceThresholds:
    """The feature-similarity thresholds of one distance distribution.

    Attributes:
        mode: m, the left edge of the fullest histogram bin.
        sigma_left: root mean square of d - m over the distances d <= m (0 when there are none).
        sigma_right: the same over d > m.
        bin_width: the histogram's bin width.
        max_distance: the histogram's upper end (2 for cosine distances).
        positive_sigmas, negative_sigmas: a and b of the thresholds
            m - a sigma_l and m + b sigma_r (2 and 2: SSDH's rule).
    """

    mode: float
    sigma_left: float
    sigma_right: float
    bin_width: float = BIN_WIDTH
    max_distance: float = MAX_DISTANCE
    positive_sigmas: float = 2.0
    negative_sigmas: float = 2.0

    @property
    def low(self):
        """m - a sigma_l: pairs closer than this are +1."""
        return self.mode - self.positive_sigmas * self.sigma_left

    @property
    def high(self):
        """m + b sigma_r: pairs farther than this are -1."""
        return self.mode + self.negative_sigmas * self.sigma_right

    def classify(self, distances):
        """int8 +1 where d < low, -1 where d > high, else 0."""
        distances = np.asarray(distances)
        return (np.where(distances < self.low, 1, 0) - np.where(distances > self.high, 1, 0)).astype(np.int8)

    def to_dict(self):
        return {"mode": self.mode, "sigma_left": self.sigma_left, "sigma_right": self.sigma_right,
                "low": self.low, "high": self.high, "bin_width": self.bin_width,
                "positive_sigmas": self.positive_sigmas, "negative_sigmas": self.negative_sigmas}


def _num_bins(bin_width, max_distance):
    if not bin_width > 0 or not max_distance > 0:
        raise ValueError(f"bin_width and max_distance must be > 0, got {bin_width} and {max_distance}.")
    return max(1, int(round(max_distance / bin_width)))


def _bin_ids(distances, bin_width, num_bins):
    return np.minimum(np.floor(distances / bin_width).astype(np.int64), num_bins - 1)


def _thresholds_from_moments(counts, bin_width, max_distance, side_sums, sigmas):
    mode = float(np.argmax(counts)) * bin_width
    (left_sum, left_count), (right_sum, right_count) = side_sums(mode)
    sigma = lambda total, count: math.sqrt(total / count) if count else 0.0  # noqa: E731
    positive_sigmas, negative_sigmas = (float(s) for s in sigmas)
    if not (positive_sigmas >= 0 and negative_sigmas >= 0):
        raise ValueError(f"positive_sigmas and negative_sigmas must be >= 0, got {sigmas}.")
    return DistanceThresholds(mode, sigma(left_sum, left_count), sigma(right_sum, right_count), bin_width,
                              max_distance, positive_sigmas, negative_sigmas)


def distance_thresholds(distances, bin_width=BIN_WIDTH, max_distance=MAX_DISTANCE, positive_sigmas=2.0,
                        negative_sigmas=2.0):
    """The thresholds of a vector of distances (the direct computation; see the module docstring).

    Distances are clipped to [0, `max_distance`]; the last bin holds
    `max_distance` itself.

    >>> t = distance_thresholds([0.1, 0.5, 0.5, 0.52, 0.9])
    >>> round(t.mode, 2), round(t.sigma_left, 4), round(t.sigma_right, 4)
    (0.5, 0.2309, 0.2832)
    """
    distances = np.clip(np.asarray(distances, np.float64).ravel(), 0.0, max_distance)
    if not distances.size:
        raise ValueError("distance_thresholds needs at least one distance.")
    num_bins = _num_bins(bin_width, max_distance)
    counts = np.bincount(_bin_ids(distances, bin_width, num_bins), minlength=num_bins)

    def side_sums(mode):
        left = distances <= mode
        deviation = np.square(distances - mode)
        return (deviation[left].sum(), int(left.sum())), (deviation[~left].sum(), int((~left).sum()))

    return _thresholds_from_moments(counts, bin_width, max_distance, side_sums, (positive_sigmas, negative_sigmas))


def cosine_distances(unit, rows, cols, max_distance=MAX_DISTANCE):
    """float64 `1 - cos` of unit rows `unit[rows]` against `unit[cols]`, clipped to [0, max_distance].

    The float32 features are multiplied in float64 (their products are exact),
    so this numpy block and `SemanticSimilarity.tf_block_fn` agree.
    """
    left = unit[np.asarray(rows)].astype(np.float64)
    right = unit[np.asarray(cols)].astype(np.float64)
    return np.clip(1.0 - left @ right.T, 0.0, max_distance)


def _upper_blocks(unit, block_size, max_distance):
    """The distances of every pair i < j, one row block at a time (float64 vectors)."""
    num_items = len(unit)
    everything = np.arange(num_items)
    for start in range(0, num_items, block_size):
        stop = min(start + block_size, num_items)
        distances = cosine_distances(unit, np.arange(start, stop), everything, max_distance)
        yield distances[everything[None, :] > np.arange(start, stop)[:, None]]


def feature_thresholds(features, bin_width=BIN_WIDTH, max_distance=MAX_DISTANCE, block_size=512, positive_sigmas=2.0,
                       negative_sigmas=2.0):
    """The feature-similarity thresholds of the cosine distances of all pairs i < j, in row blocks.

    The same numbers as `distance_thresholds` on the full vector of
    distances, with one `[block_size, N]` block in memory at a time: one pass
    for the histogram, one for the two sums of squares.

    Args:
        features: float `[N, D]`, N >= 2 (need not be normalised).
        bin_width, max_distance: the histogram (0.01 wide over [0, 2]).
        block_size: rows of the distance block held at once.
        positive_sigmas, negative_sigmas: the thresholds' multiples of sigma.

    Returns:
        A `DistanceThresholds`.
    """
    unit = unit_rows(features)
    if len(unit) < 2:
        raise ValueError(f"feature thresholds need at least 2 items, got {len(unit)}.")
    block_size = check_positive_int(block_size, "block_size")
    num_bins = _num_bins(bin_width, max_distance)
    counts = np.zeros(num_bins, np.int64)
    for distances in _upper_blocks(unit, block_size, max_distance):
        counts += np.bincount(_bin_ids(distances, bin_width, num_bins), minlength=num_bins)

    def side_sums(mode):
        sums = np.zeros(2)
        sizes = np.zeros(2, np.int64)
        for distances in _upper_blocks(unit, block_size, max_distance):
            left = distances <= mode
            deviation = np.square(distances - mode)
            sums += (deviation[left].sum(), deviation[~left].sum())
            sizes += (int(left.sum()), int((~left).sum()))
        return (sums[0], int(sizes[0])), (sums[1], int(sizes[1]))

    return _thresholds_from_moments(counts, bin_width, max_distance, side_sums, (positive_sigmas, negative_sigmas))


# -- neighbour similarity ---------------------------------------------------------------


def neighbour_similarity(knn_ids, tau=0.5, block_size=4096, absent=0.0):
    """S^n with the overlap rule: +1 for j in N_k(i), i in N_k(j), or |N_k(i) ∩ N_k(j)| >= tau k.

    Args:
        knn_ids: int `[N, k + 1]` from `cosine_knn(features, k)` (each row
            starts with the item itself, which N_k(i) excludes).
        tau: overlap threshold in [0, 1]; 1 asks for identical lists, and a
            value above 1 switches the overlap part off.
        block_size: rows of the overlap counts formed at once.
        absent: how every other pair reads: 0.0 (unknown, the default) or
            -1.0 (dissimilar).

    Returns:
        A symmetric `SparseSimilarity` storing the +1 pairs (diagonal
        included); every other pair reads `absent`.

    >>> import numpy as np
    >>> knn = np.array([[0, 1], [1, 0], [2, 1], [3, 2]])
    >>> neighbour_similarity(knn, tau=1.0).dense().astype(int).tolist()
    [[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 1, 1]]
    """
    import scipy.sparse

    knn_ids = np.asarray(knn_ids, np.int64)
    if knn_ids.ndim != 2 or knn_ids.shape[1] < 2:
        raise ValueError(f"knn_ids must be [N, k + 1] with k >= 1 (from cosine_knn), got shape {knn_ids.shape}.")
    tau = check_non_negative_float(tau, "tau")
    num_items, k = len(knn_ids), knn_ids.shape[1] - 1
    block_size = check_positive_int(block_size, "block_size")
    neighbours = knn_indicator(knn_ids[:, 1:], num_items)  # N_k(i), i excluded
    positives = neighbours + neighbours.T + scipy.sparse.identity(num_items, dtype=np.int32, format="csr")
    minimum = max(1, math.ceil(tau * k - 1e-9))
    if minimum <= k:
        transpose = neighbours.T.tocsr()
        blocks = []
        for start in range(0, num_items, block_size):
            overlap = (neighbours[start : start + block_size] @ transpose).tocoo()
            keep = overlap.data >= minimum
            blocks.append(scipy.sparse.csr_matrix(
                (np.ones(int(keep.sum()), np.int32), (overlap.row[keep] + start, overlap.col[keep])),
                shape=(num_items, num_items),
            ))
        positives = positives + sum(blocks[1:], blocks[0])
    if absent not in (0.0, -1.0):
        raise ValueError(f"`absent` must be 0.0 (unknown) or -1.0 (dissimilar), got {absent!r}.")
    return SparseSimilarity.from_scipy(positives, absent=float(absent))


# -- combination -------------------------------------------------------------------------


def combine_signs(feature, neighbour, rule="union"):
    """S from S^f and S^n in {-1, 0, +1}, elementwise (numpy or TensorFlow tensors).

    S^n is -1 only when its absent pairs read as dissimilar.

    >>> import numpy as np
    >>> f = np.array([1, 1, 0, 0, -1, -1]); n = np.array([1, 0, 1, 0, 1, 0])
    >>> combine_signs(f, n, "union").tolist(), combine_signs(f, n, "intersection").tolist()
    ([1, 1, 1, 0, 0, -1], [1, 0, 0, 0, -1, -1])
    >>> combine_signs(np.array([1, 0, -1]), np.array([-1, -1, -1]), "union").tolist()
    [1, -1, -1]
    """
    rule = check_choice(rule, "combine", COMBINATIONS)
    if rule == "feature":
        return feature
    if rule == "neighbour":
        return neighbour
    is_negative = feature < 0
    if rule == "union":
        positive = (feature > 0) | ((neighbour > 0) & ~is_negative)  # S^f = -1 with S^n = +1: conflict, 0
        negative = (is_negative & (neighbour <= 0)) | ((feature == 0) & (neighbour < 0))
    else:
        positive = (feature > 0) & (neighbour > 0)
        negative = is_negative | (neighbour < 0)
    return _as_like(positive, feature) - _as_like(negative, feature)


def _as_like(mask, reference):
    if isinstance(reference, np.ndarray) or np.isscalar(reference):
        return np.asarray(mask).astype(np.asarray(reference).dtype)
    import tensorflow as tf

    return tf.cast(mask, reference.dtype)


# -- the matrix ---------------------------------------------------------------------------


class SemanticSimilarity:
    """S in {-1, 0, +1}: S^f from stored unit features and thresholds, combined with a sparse S^n.

    0 means unknown: a loss weights each pair by |S_ij|. Blocks are computed
    on demand (`block`, `tf_block_fn`); the N x N matrix never exists.

    Args:
        features: float `[N, D]` frozen features (normalised here).
        thresholds: `DistanceThresholds` of their cosine distances.
        neighbours: a `SparseSimilarity` over the same N items storing +1
            pairs only, absent pairs 0 or -1 (S^n).
        combine: one of `COMBINATIONS`.
    """

    def __init__(self, features, thresholds, neighbours, combine="union"):
        self.unit = unit_rows(features)
        self.num_items = len(self.unit)
        if not isinstance(thresholds, DistanceThresholds):
            raise ValueError(f"`thresholds` must be a DistanceThresholds, got {type(thresholds).__name__}.")
        self.thresholds = thresholds
        if neighbours.num_items != self.num_items:
            raise ValueError(f"the neighbour similarity covers {neighbours.num_items} items, the features "
                             f"{self.num_items}; build both from the same images.")
        if neighbours.num_negative:
            raise ValueError("the neighbour similarity must hold +1 pairs only (absent pairs 0).")
        self.neighbours = neighbours
        self.combine = check_choice(combine, "combine", COMBINATIONS)

    # -- numpy -----------------------------------------------------------------------

    def feature_block(self, rows, cols):
        """int8 S^f[rows][:, cols] (+1 where the row and column ids are equal)."""
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        signs = self.thresholds.classify(cosine_distances(self.unit, rows, cols, self.thresholds.max_distance))
        return np.where(rows[:, None] == cols[None, :], np.int8(1), signs)

    def neighbour_block(self, rows, cols):
        """int8 S^n[rows][:, cols] in {0, +1} (or {-1, +1} when its absent pairs are dissimilar)."""
        return self.neighbours.block(rows, cols).astype(np.int8)

    def block(self, rows, cols, with_mask=False):
        """float32 S[rows][:, cols]; with `with_mask`, also the bool known-mask (S != 0)."""
        rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
        values = combine_signs(self.feature_block(rows, cols), self.neighbour_block(rows, cols), self.combine)
        values = np.where(rows[:, None] == cols[None, :], 1, values).astype(np.float32)
        return (values, values != 0) if with_mask else values

    def dense(self, with_mask=False):
        """The full matrix (small N only: tests and inspection)."""
        if self.num_items > 20_000:
            raise ValueError(f"dense() would allocate a {self.num_items}^2 matrix; use block(rows, cols).")
        everything = np.arange(self.num_items)
        return self.block(everything, everything, with_mask=with_mask)

    def summary(self, labels=None, block_size=1024):
        """Fractions of off-diagonal +1, -1 and 0 pairs of S, S^f and S^n; label agreement with `labels`.

        With labels (class ids `[N]` or multi-hot `[N, C]`), a diagnostic
        only: `positive_label_agreement` is the share of off-diagonal +1
        pairs whose items share a label, `negative_label_agreement` the
        share of -1 pairs whose items share none (NaN when there are none).
        One pass over row blocks.
        """
        labels = None if labels is None else np.asarray(labels)
        counts = {name: np.zeros(3, np.int64) for name in ("", "feature_", "neighbour_")}
        agree = np.zeros(2, np.int64)
        everything = np.arange(self.num_items)
        for start in range(0, self.num_items, block_size):
            rows = np.arange(start, min(start + block_size, self.num_items))
            off = rows[:, None] != everything[None, :]
            feature, neighbour = self.feature_block(rows, everything), self.neighbour_block(rows, everything)
            combined = combine_signs(feature, neighbour, self.combine)
            for name, values in (("", combined), ("feature_", feature), ("neighbour_", neighbour)):
                counts[name] += [np.sum((values > 0) & off), np.sum((values < 0) & off), np.sum((values == 0) & off)]
            if labels is not None:
                if labels.ndim == 1:
                    shared = labels[rows][:, None] == labels[None, :]
                else:
                    shared = (labels[rows].astype(np.float32) @ labels.T.astype(np.float32)) > 0
                agree += [np.sum(shared & (combined > 0) & off), np.sum(~shared & (combined < 0) & off)]
        pairs = max(1, self.num_items * (self.num_items - 1))
        info = {"num_items": self.num_items, "combine": self.combine}
        info.update({f"threshold_{key}": float(value) for key, value in self.thresholds.to_dict().items()})
        for name, (positive, negative, unknown) in counts.items():
            info[f"{name}positive_fraction"] = float(positive) / pairs
            info[f"{name}negative_fraction"] = float(negative) / pairs
            info[f"{name}unknown_fraction"] = float(unknown) / pairs
        info["positives_per_row_mean"] = float(counts[""][0]) / max(1, self.num_items)
        if labels is not None:
            positive, negative = int(counts[""][0]), int(counts[""][1])
            info["positive_label_agreement"] = float(agree[0]) / positive if positive else float("nan")
            info["negative_label_agreement"] = float(agree[1]) / negative if negative else float("nan")
        return info

    # -- TensorFlow ------------------------------------------------------------------------

    def tf_block_fn(self, with_mask=False):
        """A TensorFlow function `(rows, cols) -> S[rows][:, cols]` (float32), for `tf.data` maps.

        Captures the unit features (float32) and the sparse S^n once; each
        block costs one `[B, D] x [D, B]` float64 matmul and a binary search
        per entry. Equals `block` (and returns `(values, known)` with
        `with_mask`).
        """
        import tensorflow as tf

        unit = tf.constant(self.unit)
        neighbour_block = self.neighbours.tf_block_fn()
        low, high = self.thresholds.low, self.thresholds.high
        max_distance, combine = self.thresholds.max_distance, self.combine

        def block(rows, cols):
            rows = tf.cast(rows, tf.int64)
            cols = tf.cast(cols, tf.int64)
            left = tf.cast(tf.gather(unit, rows), tf.float64)
            right = tf.cast(tf.gather(unit, cols), tf.float64)
            distances = tf.clip_by_value(1.0 - tf.matmul(left, right, transpose_b=True), 0.0, max_distance)
            diagonal = tf.equal(rows[:, None], cols[None, :])
            feature = tf.cast(distances < low, tf.float32) - tf.cast(distances > high, tf.float32)
            feature = tf.where(diagonal, 1.0, feature)
            values = tf.where(diagonal, 1.0, combine_signs(feature, neighbour_block(rows, cols), combine))
            return (values, tf.not_equal(values, 0.0)) if with_mask else values

        return block

    def __repr__(self):
        return (f"SemanticSimilarity(num_items={self.num_items}, combine={self.combine!r}, "
                f"low={self.thresholds.low:.4f}, high={self.thresholds.high:.4f})")


def semantic_similarity(features, k=20, tau=0.5, neighbour_rule="overlap", k2=30, combine="union",
                        bin_width=BIN_WIDTH, max_distance=MAX_DISTANCE, block_size=512, positive_sigmas=2.0,
                        negative_sigmas=2.0, neighbour_absent="unknown"):
    """Builds S from frozen features: thresholds (`feature_thresholds`), S^n, and the combination.

    Args:
        features: float `[N, D]`.
        k: neighbours per item for S^n (the K1 of the `"shared"` rule).
        tau: overlap threshold of the `"overlap"` rule.
        neighbour_rule: `"overlap"` or `"shared"` (BGAN's K1/K2 rule with K2 = `k2`).
        k2: K2 of the `"shared"` rule.
        combine: one of `COMBINATIONS`.
        bin_width, max_distance: the distance histogram.
        block_size: rows of each distance block.
        positive_sigmas, negative_sigmas: the feature rule's thresholds are
            m - positive_sigmas sigma_l and m + negative_sigmas sigma_r.
        neighbour_absent: `"unknown"` (pairs S^n does not mark +1 read 0) or
            `"dissimilar"` (they read -1).

    Returns:
        A `SemanticSimilarity`.
    """
    rule = check_choice(neighbour_rule, "neighbour_rule", NEIGHBOUR_RULES)
    absent = {"unknown": 0.0, "dissimilar": -1.0}[check_choice(neighbour_absent, "neighbour_absent",
                                                              NEIGHBOUR_ABSENT)]
    thresholds = feature_thresholds(features, bin_width, max_distance, block_size=block_size,
                                    positive_sigmas=positive_sigmas, negative_sigmas=negative_sigmas)
    knn = cosine_knn(features, k, block_size=max(block_size, 1024))
    if rule == "overlap":
        neighbours = neighbour_similarity(knn, tau, absent=absent)
    else:
        neighbours = shared_neighbour_similarity(knn, k2, absent=absent)
    return SemanticSimilarity(features, thresholds, neighbours, combine)


__all__ = [
    "BIN_WIDTH", "COMBINATIONS", "DistanceThresholds", "MAX_DISTANCE", "NEIGHBOUR_ABSENT", "NEIGHBOUR_RULES",
    "SemanticSimilarity", "combine_signs", "cosine_distances", "distance_thresholds", "feature_thresholds",
    "neighbour_similarity", "semantic_similarity", "unit_rows",
]
