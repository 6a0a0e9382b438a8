"""`SparseSimilarity`: a symmetric N x N two-valued matrix stored as its positive pattern.

A training-set similarity matrix for 50,000 images would take 10 GB dense
(float32). Methods that learn from one (BGAN's neighbourhood structure, SPAH's
neighbour similarity) only ever need the block of a batch, so the matrix is
kept as the sorted list of its positive entries (CSR) and batch blocks are
looked up with a binary search, in numpy or inside a `tf.data` pipeline.
"""

import numpy as np


class SparseSimilarity:
    """An N x N matrix whose entries are `positive` on a sparse pattern and `negative` elsewhere.

    Args:
        indptr: int64 `[N + 1]`, CSR row pointers of the positive pattern.
        indices: int32 `[nnz]`, column ids of the positives, sorted within each row.
        num_items: N.
        positive: value of the stored entries (BGAN: +1).
        negative: value of every other entry (BGAN: -1; SPAH's neighbour
            similarity: 0).

    Example:

    >>> import numpy as np
    >>> s = SparseSimilarity.from_pairs([(0, 1)], num_items=3, diagonal=True)
    >>> s.dense().astype(int).tolist()
    [[1, 1, -1], [1, 1, -1], [-1, -1, 1]]
    >>> s.block([2, 0], [0, 1]).astype(int).tolist()
    [[-1, -1], [1, 1]]
    """

    def __init__(self, indptr, indices, num_items, positive=1.0, negative=-1.0):
        self.num_items = int(num_items)
        self.indptr = np.asarray(indptr, np.int64)
        self.indices = np.asarray(indices, np.int32)
        if self.indptr.shape != (self.num_items + 1,) or self.indptr[-1] != len(self.indices):
            raise ValueError(
                f"indptr must have N + 1 = {self.num_items + 1} entries ending at nnz = {len(self.indices)}, "
                f"got shape {self.indptr.shape} ending at {self.indptr[-1] if len(self.indptr) else None}."
            )
        self.positive = float(positive)
        self.negative = float(negative)
        rows = np.repeat(np.arange(self.num_items, dtype=np.int64), np.diff(self.indptr))
        self.keys = rows * self.num_items + self.indices
        if len(self.keys) > 1 and not np.all(np.diff(self.keys) > 0):
            raise ValueError("positive entries must be unique and sorted by (row, column).")

    @classmethod
    def from_pairs(cls, pairs, num_items, diagonal=True, positive=1.0, negative=-1.0):
        """The symmetric matrix with positives at `pairs` (and their mirrors, and the diagonal)."""
        import scipy.sparse

        pairs = np.asarray(list(pairs), np.int64).reshape(-1, 2)
        rows, cols = pairs[:, 0], pairs[:, 1]
        if diagonal:
            rows = np.concatenate([rows, np.arange(num_items)])
            cols = np.concatenate([cols, np.arange(num_items)])
        pattern = scipy.sparse.csr_matrix(
            (np.ones(len(rows), np.int8), (rows, cols)), shape=(num_items, num_items)
        )
        return cls.from_scipy(pattern + pattern.T, positive=positive, negative=negative)

    @classmethod
    def from_scipy(cls, matrix, positive=1.0, negative=-1.0):
        """The positive pattern of a scipy sparse matrix (its non-zero entries)."""
        matrix = matrix.tocsr()
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return cls(matrix.indptr, matrix.indices, matrix.shape[0], positive=positive, negative=negative)

    # -- numpy ------------------------------------------------------------------

    @property
    def nnz(self):
        """Number of positive entries (diagonal included)."""
        return len(self.indices)

    def positives_per_row(self):
        """int64 `[N]`: positives in each row."""
        return np.diff(self.indptr)

    def neighbours(self, i):
        """Column ids of row i's positives."""
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def block(self, rows, cols):
        """float32 `[len(rows), len(cols)]`: the entries `S[rows][:, cols]`."""
        rows = np.asarray(rows, np.int64)
        cols = np.asarray(cols, np.int64)
        query = rows[:, None] * self.num_items + cols[None, :]
        position = np.minimum(np.searchsorted(self.keys, query), max(len(self.keys) - 1, 0))
        hit = self.keys[position] == query if len(self.keys) else np.zeros(query.shape, bool)
        return np.where(hit, self.positive, self.negative).astype(np.float32)

    def dense(self):
        """The full matrix as float32 (small N only: tests and inspection)."""
        if self.num_items > 20_000:
            raise ValueError(f"dense() would allocate a {self.num_items}^2 matrix; use block(rows, cols).")
        everything = np.arange(self.num_items)
        return self.block(everything, everything)

    def label_agreement(self, labels):
        """Share of off-diagonal positives whose two items share a label (a diagnostic).

        `labels` are class ids `[N]` or multi-hot `[N, C]`.
        """
        labels = np.asarray(labels)
        rows = np.repeat(np.arange(self.num_items), self.positives_per_row())
        off = rows != self.indices
        rows, cols = rows[off], self.indices[off]
        if not len(rows):
            return float("nan")
        if labels.ndim == 1:
            return float(np.mean(labels[rows] == labels[cols]))
        return float(np.mean(np.sum(labels[rows].astype(bool) & labels[cols].astype(bool), axis=1) > 0))

    def summary(self, labels=None):
        """A few numbers worth logging: size, positives per row, density, label agreement."""
        per_row = self.positives_per_row()
        info = {
            "num_items": self.num_items,
            "positives": int(self.nnz),
            "positives_per_row_min": int(per_row.min()) if len(per_row) else 0,
            "positives_per_row_mean": float(per_row.mean()) if len(per_row) else 0.0,
            "positives_per_row_max": int(per_row.max()) if len(per_row) else 0,
            "positive_fraction": float(self.nnz) / max(1, self.num_items) ** 2,
        }
        if labels is not None:
            info["label_agreement"] = self.label_agreement(labels)
        return info

    # -- TensorFlow ----------------------------------------------------------------

    def tf_block_fn(self):
        """A TensorFlow function `(rows, cols) -> S[rows][:, cols]` (float32), for `tf.data` maps.

        The sorted keys are captured once as a constant (8 bytes per positive),
        and each entry is found by binary search, so a batch block costs
        `O(m^2 log nnz)` and no dense row is ever built.
        """
        import tensorflow as tf

        keys = tf.constant(self.keys if len(self.keys) else np.array([-1], np.int64), tf.int64)
        num_items = tf.constant(self.num_items, tf.int64)
        last = tf.cast(tf.size(keys) - 1, tf.int64)
        positive, negative = self.positive, self.negative

        def block(rows, cols):
            rows = tf.cast(rows, tf.int64)
            cols = tf.cast(cols, tf.int64)
            query = tf.reshape(rows[:, None] * num_items + cols[None, :], [-1])
            position = tf.minimum(tf.searchsorted(keys, query, out_type=tf.int64), last)
            hit = tf.equal(tf.gather(keys, position), query)
            values = tf.where(hit, tf.constant(positive, tf.float32), tf.constant(negative, tf.float32))
            return tf.reshape(values, tf.stack([tf.size(rows), tf.size(cols)]))

        return block

    def __repr__(self):
        return (
            f"SparseSimilarity(num_items={self.num_items}, positives={self.nnz}, "
            f"positive={self.positive:g}, negative={self.negative:g})"
        )
