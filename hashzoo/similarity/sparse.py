"""`SparseSimilarity`: an N x N matrix of signed pairs, stored sparse, with a policy for the rest.

A training-set similarity matrix for 50,000 images would take 10 GB dense
(float32). Methods that learn from one only ever need the block of a batch,
so the matrix keeps the pairs it knows as +1 or -1 in CSR form (sorted keys
`row * N + col` and one int8 sign each) and says how every other pair reads:

- `absent=-1.0` (or 0.0, +1.0): absent pairs are known and take that value.
  A K-NN rule that stores its positives and calls everything else
  dissimilar uses -1.
- `absent="unknown"`: absent pairs are unknown. Their value is 0 and their
  known-mask is False, so a loss can leave them out. A three-valued
  S in {-1, 0, +1} stores its +1 and -1 pairs and leaves the 0 pairs absent.

Batch blocks are looked up with a binary search, in numpy (`block`) or
inside a `tf.data` pipeline (`tf_block_fn`); with `with_mask=True` both
return `(values, known)`.
"""

import numbers

import numpy as np

UNKNOWN = "unknown"
_KNOWN_VALUES = (-1.0, 0.0, 1.0)


def check_absent(absent):
    """Returns `absent` as `"unknown"` or a float in {-1, 0, +1}, else raises ValueError."""
    if isinstance(absent, str):
        if absent == UNKNOWN:
            return UNKNOWN
    elif isinstance(absent, numbers.Real) and not isinstance(absent, bool) and float(absent) in _KNOWN_VALUES:
        return float(absent)
    raise ValueError(
        f"`absent` says how a pair that is not stored reads: {UNKNOWN!r} (value 0, not known) or a "
        f"known value in {{-1, 0, +1}}; got {absent!r}."
    )


def _check_signs(values, count, name="values"):
    values = np.asarray(values)
    if values.shape != (count,):
        raise ValueError(f"`{name}` must hold one sign per stored pair, shape ({count},), got shape {values.shape}.")
    if values.size and not np.all((values == 1) | (values == -1)):
        bad = np.unique(values[(values != 1) & (values != -1)])[:5].tolist()
        raise ValueError(f"`{name}` must be +1 or -1 (absent pairs are simply not stored), got {bad}.")
    return values.astype(np.int8)


class SparseSimilarity:
    """An N x N matrix: stored pairs are +1 or -1, absent pairs follow `absent`.

    Args:
        indptr: int `[N + 1]`, CSR row pointers of the stored pairs.
        indices: int `[nnz]`, column ids of the stored pairs, sorted within each row.
        num_items: N.
        absent: how a pair that is not stored reads: `"unknown"` (value 0,
            known-mask False) or a known value in {-1, 0, +1}. Required: a
            K-NN matrix whose other pairs are dissimilar says -1.
        values: int `[nnz]` of +1/-1, the stored signs; None stores +1 everywhere.

    Example:

    >>> s = SparseSimilarity.from_pairs([(0, 1)], num_items=3, absent=-1.0)
    >>> s.dense().astype(int).tolist()
    [[1, 1, -1], [1, 1, -1], [-1, -1, 1]]
    >>> s.block([2, 0], [0, 1]).astype(int).tolist()
    [[-1, -1], [1, 1]]
    >>> t = SparseSimilarity.from_pairs([(0, 1), (0, 2)], num_items=3, absent="unknown", values=[1, -1])
    >>> values, known = t.dense(with_mask=True)
    >>> values.astype(int).tolist(), known.astype(int).tolist()
    ([[1, 1, -1], [1, 1, 0], [-1, 0, 1]], [[1, 1, 1], [1, 1, 0], [1, 0, 1]])
    """

    def __init__(self, indptr, indices, num_items, *, absent, values=None):
        self.num_items = int(num_items)
        self.indptr = np.asarray(indptr, np.int64)
        self.indices = np.asarray(indices, np.int32)
        if self.indptr.shape != (self.num_items + 1,) or self.indptr[-1] != len(self.indices):
            raise ValueError(
                f"indptr must have N + 1 = {self.num_items + 1} entries ending at nnz = {len(self.indices)}, "
                f"got shape {self.indptr.shape} ending at {self.indptr[-1] if len(self.indptr) else None}."
            )
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= self.num_items):
            raise ValueError(
                f"column ids must lie in [0, {self.num_items}), got values in "
                f"[{self.indices.min()}, {self.indices.max()}]."
            )
        self.absent = check_absent(absent)
        # None when every stored pair is +1 (the lookups then skip the sign gather).
        self.values = None if values is None else _check_signs(values, len(self.indices))
        if self.values is not None and np.all(self.values == 1):
            self.values = None
        rows = np.repeat(np.arange(self.num_items, dtype=np.int64), np.diff(self.indptr))
        self.keys = rows * self.num_items + self.indices
        if len(self.keys) > 1 and not np.all(np.diff(self.keys) > 0):
            raise ValueError("stored pairs must be unique and sorted by (row, column).")

    # -- construction -------------------------------------------------------------

    @classmethod
    def from_pairs(cls, pairs, num_items, *, absent, values=None, diagonal=True):
        """The symmetric matrix storing `pairs` and their mirrors (and the diagonal as +1).

        Args:
            pairs: `(i, j)` index pairs.
            num_items: N.
            absent: see the class.
            values: +1/-1 per pair (None: all +1).
            diagonal: also store every `(i, i)` as +1.

        Raises:
            ValueError: a pair outside `[0, N)`, or one pair given two signs
                (directly, through its mirror or against the diagonal).
        """
        num_items = int(num_items)
        pairs = np.asarray(list(pairs), np.int64).reshape(-1, 2)
        signs = np.ones(len(pairs), np.int8) if values is None else _check_signs(values, len(pairs))
        if pairs.size and (pairs.min() < 0 or pairs.max() >= num_items):
            raise ValueError(f"pair ids must lie in [0, {num_items}), got values in [{pairs.min()}, {pairs.max()}].")
        rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
        cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
        signs = np.concatenate([signs, signs])
        if diagonal:
            everything = np.arange(num_items, dtype=np.int64)
            rows, cols = np.concatenate([rows, everything]), np.concatenate([cols, everything])
            signs = np.concatenate([signs, np.ones(num_items, np.int8)])
        keys = rows * num_items + cols
        order = np.argsort(keys, kind="stable")
        keys, signs = keys[order], signs[order]
        repeated = keys[1:] == keys[:-1]
        clash = np.flatnonzero(repeated & (signs[1:] != signs[:-1]))
        if len(clash):
            row, col = divmod(int(keys[clash[0]]), num_items)
            raise ValueError(
                f"pair ({row}, {col}) is given both +1 and -1 (through its mirror ({col}, {row}) or the "
                "diagonal); give each unordered pair one sign."
            )
        keep = np.r_[True, ~repeated] if len(keys) else np.zeros(0, bool)
        keys, signs = keys[keep], signs[keep]
        counts = np.bincount(keys // num_items, minlength=num_items) if num_items else np.zeros(0, np.int64)
        indptr = np.r_[0, np.cumsum(counts)]
        return cls(indptr, keys % max(num_items, 1), num_items, absent=absent, values=signs)

    @classmethod
    def from_scipy(cls, matrix, *, absent):
        """The stored pairs of a square scipy sparse matrix: entries > 0 as +1, < 0 as -1.

        Explicit zeros are dropped (absent), so a matrix of shared-neighbour
        counts stores its non-zero pattern as +1.
        """
        matrix = matrix.tocsr(copy=True)
        if matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"a similarity matrix is square, got shape {matrix.shape}.")
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return cls(matrix.indptr, matrix.indices, matrix.shape[0], absent=absent, values=np.sign(matrix.data))

    # -- numpy ------------------------------------------------------------------

    @property
    def nnz(self):
        """Number of stored pairs (+1 and -1, diagonal included)."""
        return len(self.indices)

    @property
    def absent_is_unknown(self):
        """True when absent pairs are unknown rather than a known value."""
        return self.absent == UNKNOWN

    def _absent_value(self):
        return 0.0 if self.absent_is_unknown else self.absent

    def _row_ids(self):
        return np.repeat(np.arange(self.num_items, dtype=np.int64), np.diff(self.indptr))

    def _signs(self):
        return np.ones(self.nnz, np.int8) if self.values is None else self.values

    def positives_per_row(self):
        """int64 `[N]`: stored +1 pairs in each row."""
        if self.values is None:
            return np.diff(self.indptr)
        return np.bincount(self._row_ids()[self.values > 0], minlength=self.num_items)

    def negatives_per_row(self):
        """int64 `[N]`: stored -1 pairs in each row (absent pairs not counted)."""
        if self.values is None:
            return np.zeros(self.num_items, np.int64)
        return np.bincount(self._row_ids()[self.values < 0], minlength=self.num_items)

    @property
    def num_positive(self):
        """Number of stored +1 pairs."""
        return int(self.nnz if self.values is None else np.count_nonzero(self.values > 0))

    @property
    def num_negative(self):
        """Number of stored -1 pairs."""
        return 0 if self.values is None else int(np.count_nonzero(self.values < 0))

    def neighbours(self, i):
        """Column ids of row i's stored +1 pairs."""
        columns = self.indices[self.indptr[i] : self.indptr[i + 1]]
        if self.values is None:
            return columns
        return columns[self.values[self.indptr[i] : self.indptr[i + 1]] > 0]

    def is_symmetric(self):
        """True when S[i, j] == S[j, i] for every stored pair (absent pairs mirror absent pairs)."""
        rows = self._row_ids()
        mirrored = self.indices.astype(np.int64) * self.num_items + rows
        order = np.argsort(mirrored)
        return bool(np.array_equal(mirrored[order], self.keys) and np.array_equal(self._signs()[order], self._signs()))

    def block(self, rows, cols, with_mask=False):
        """The entries `S[rows][:, cols]`.

        Args:
            rows, cols: int ids in `[0, N)`.
            with_mask: also return which entries are known.

        Returns:
            float32 `[len(rows), len(cols)]` values (absent pairs read as
            `absent`, or 0 when unknown); with `with_mask`, a tuple
            `(values, known)` with `known` bool of the same shape.
        """
        rows = np.asarray(rows, np.int64)
        cols = np.asarray(cols, np.int64)
        query = rows[:, None] * self.num_items + cols[None, :]
        if len(self.keys):
            position = np.minimum(np.searchsorted(self.keys, query), len(self.keys) - 1)
            hit = self.keys[position] == query
            stored = 1.0 if self.values is None else self.values[position]
        else:
            hit, stored = np.zeros(query.shape, bool), 1.0
        values = np.where(hit, stored, self._absent_value()).astype(np.float32)
        if not with_mask:
            return values
        known = hit if self.absent_is_unknown else np.ones(query.shape, bool)
        return values, known

    def dense(self, with_mask=False):
        """The full matrix as float32 (and its bool known-mask): small N only, for tests and inspection."""
        if self.num_items > 20_000:
            raise ValueError(f"dense() would allocate a {self.num_items}^2 matrix; use block(rows, cols).")
        everything = np.arange(self.num_items)
        return self.block(everything, everything, with_mask=with_mask)

    def label_agreement(self, labels, sign=1):
        """How often the stored off-diagonal pairs of one sign agree with the labels (a diagnostic).

        Args:
            labels: class ids `[N]` or multi-hot `[N, C]`.
            sign: +1: the share of stored +1 pairs whose items share a label;
                -1: the share of stored -1 pairs whose items share none.

        Returns:
            A float, NaN when there is no such pair.
        """
        if sign not in (1, -1):
            raise ValueError(f"`sign` must be +1 or -1, got {sign!r}.")
        labels = np.asarray(labels)
        rows = self._row_ids()
        keep = (rows != self.indices) & (self._signs() == sign)
        rows, cols = rows[keep], self.indices[keep]
        if not len(rows):
            return float("nan")
        if labels.ndim == 1:
            shared = labels[rows] == labels[cols]
        else:
            shared = np.sum(labels[rows].astype(bool) & labels[cols].astype(bool), axis=1) > 0
        return float(np.mean(shared if sign == 1 else ~shared))

    def summary(self, labels=None):
        """A few numbers worth logging.

        Always: size, stored +1 pairs per row, their fraction of all N^2
        pairs and (with `labels`) their label agreement. A matrix that stores
        -1 pairs or reads absent pairs as unknown also reports the stored -1
        pairs, the unknown fraction and the -1 pairs' label agreement.
        """
        per_row = self.positives_per_row()
        positives = self.num_positive
        area = max(1, self.num_items) ** 2
        info = {
            "num_items": self.num_items,
            "positives": positives,
            "positives_per_row_min": int(per_row.min()) if len(per_row) else 0,
            "positives_per_row_mean": float(per_row.mean()) if len(per_row) else 0.0,
            "positives_per_row_max": int(per_row.max()) if len(per_row) else 0,
            "positive_fraction": float(positives) / area,
        }
        if labels is not None:
            info["label_agreement"] = self.label_agreement(labels)
        if self.num_negative or self.absent_is_unknown:
            info["absent"] = self.absent
            info["negatives"] = self.num_negative
            info["negative_fraction"] = float(self.num_negative) / area
            info["unknown_fraction"] = float(area - self.nnz) / area if self.absent_is_unknown else 0.0
            if labels is not None:
                info["negative_label_agreement"] = self.label_agreement(labels, sign=-1)
        return info

    # -- TensorFlow ----------------------------------------------------------------

    def tf_block_fn(self, with_mask=False):
        """A TensorFlow function `(rows, cols) -> S[rows][:, cols]`, for `tf.data` maps.

        The sorted keys are captured once as a constant (8 bytes per stored
        pair, plus one byte for its sign when some are -1), and each entry is
        found by binary search, so a batch block costs `O(m^2 log nnz)` and no
        dense row is ever built. The function returns float32 values, or
        `(values, known)` with a bool known-mask when `with_mask` is True
        (the same as `block`).
        """
        import tensorflow as tf

        keys = tf.constant(self.keys if len(self.keys) else np.array([-1], np.int64), tf.int64)
        signs = None
        if self.values is not None:
            signs = tf.constant(self.values if len(self.values) else np.zeros(1, np.int8), tf.int8)
        num_items = tf.constant(self.num_items, tf.int64)
        last = tf.cast(tf.size(keys) - 1, tf.int64)
        absent_value, unknown = self._absent_value(), self.absent_is_unknown

        def block(rows, cols):
            rows = tf.cast(rows, tf.int64)
            cols = tf.cast(cols, tf.int64)
            shape = tf.stack([tf.size(rows), tf.size(cols)])
            query = tf.reshape(rows[:, None] * num_items + cols[None, :], [-1])
            position = tf.minimum(tf.searchsorted(keys, query, out_type=tf.int64), last)
            hit = tf.equal(tf.gather(keys, position), query)
            stored = tf.constant(1.0, tf.float32) if signs is None else tf.cast(tf.gather(signs, position), tf.float32)
            values = tf.reshape(tf.where(hit, stored, tf.constant(absent_value, tf.float32)), shape)
            if not with_mask:
                return values
            known = hit if unknown else tf.ones_like(hit)
            return values, tf.reshape(known, shape)

        return block

    def __repr__(self):
        return (
            f"SparseSimilarity(num_items={self.num_items}, positives={self.num_positive}, "
            f"negatives={self.num_negative}, absent={self.absent!r})"
        )
