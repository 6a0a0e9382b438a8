"""Relevance between query and database labels.

See docs/evaluation.md, "Relevance (single- and multi-label)".

rel(q, x) = 1 when the label vectors share at least one positive label
(y_q . y_x > 0). For class ids `[N]` this is "same class". Multi-hot labels
`[N, C]` are packed to uint64 bit words, so relevance is an AND plus an
any-test and costs C / 64 word operations per pair. An item whose multi-hot row
is all zero shares no label with anything and is relevant to nothing.
"""

import numpy as np

from hashzoo.utils.validation import check_labels

SINGLE = "single"
MULTI = "multi"


class Labels:
    """Query and database labels prepared for fast relevance tests.

    Attributes:
        kind: `"single"` (int64 class ids) or `"multi"` (uint64 bit words).
        query: `[Q]` int64 class ids or `[Q, W]` uint64 label words.
        database: `[N]` or `[N, W]`, same encoding.
    """

    def __init__(self, query_labels, db_labels, num_queries, num_database):
        query = check_labels(query_labels, num_queries, "query_labels")
        database = check_labels(db_labels, num_database, "db_labels")
        if query.ndim != database.ndim:
            raise ValueError(
                "`query_labels` and `db_labels` must both be class ids [N] or both "
                f"multi-hot [N, C]; got shapes {query.shape} and {database.shape}."
            )
        if query.ndim == 2 and query.shape[1] != database.shape[1]:
            raise ValueError(
                f"multi-hot `query_labels` have {query.shape[1]} classes but `db_labels` "
                f"have {database.shape[1]}; both need the same label columns."
            )
        if query.ndim == 1:
            self.kind, self.query, self.database = SINGLE, query, database
        else:
            self.kind = MULTI
            self.query, self.database = _label_words(query), _label_words(database)

    def relevance(self, query_rows, ids=None):
        """Relevance of a block of queries to the database or to chosen items.

        Args:
            query_rows: slice or index array selecting queries.
            ids: optional int64 `[q, k]` database indices per query; by
                default every database item.

        Returns:
            bool `[q, N]`, or `[q, k]` when `ids` is given.
        """
        query = self.query[query_rows]
        if self.kind == SINGLE:
            if ids is None:
                return query[:, None] == self.database[None, :]
            return self.database[ids] == query[:, None]
        if ids is None:
            out = (query[:, None, 0] & self.database[None, :, 0]) != 0
            for w in range(1, query.shape[1]):
                out |= (query[:, None, w] & self.database[None, :, w]) != 0
            return out
        items = self.database[ids]
        out = (items[..., 0] & query[:, None, 0]) != 0
        for w in range(1, query.shape[1]):
            out |= (items[..., w] & query[:, None, w]) != 0
        return out

    def relevant_counts(self):
        """R_q: the number of relevant database items of every query, int64 `[Q]`.

        Computed without a query x database pass: class sizes for class ids, and
        for multi-hot labels a test against each distinct database label set,
        weighted by how many items carry it.
        """
        if self.kind == SINGLE:
            sizes = np.bincount(self.database, minlength=int(self.query.max()) + 1)
            return sizes[self.query].astype(np.int64)
        sets, sizes = np.unique(self.database, axis=0, return_counts=True)
        counts = np.empty(len(self.query), dtype=np.int64)
        step = max(1, 2**24 // max(1, len(sets)))
        for start in range(0, len(self.query), step):
            query = self.query[start : start + step]
            shares = (query[:, None, 0] & sets[None, :, 0]) != 0
            for w in range(1, query.shape[1]):
                shares |= (query[:, None, w] & sets[None, :, w]) != 0
            counts[start : start + step] = shares.astype(np.int64) @ sizes
        return counts


def _label_words(multi_hot):
    """Packs bool `[N, C]` into uint64 `[N, ceil(C / 64)]` (bit order irrelevant)."""
    packed = np.packbits(multi_hot, axis=1)
    width = packed.shape[1]
    words = max(1, -(-width // 8))
    padded = np.zeros((packed.shape[0], 8 * words), dtype=np.uint8)
    padded[:, :width] = packed
    return padded.view(np.uint64).reshape(packed.shape[0], words)


def relevance_matrix(query_labels, db_labels):
    """The full relevance matrix between queries and database items.

    Handy for small data and tests; the metrics never build it for a whole
    query set, only per block of queries or per ranked list.

    Args:
        query_labels: class ids `[Q]` or multi-hot `[Q, C]`.
        db_labels: class ids `[N]` or multi-hot `[N, C]`, same kind.

    Returns:
        bool `[Q, N]`: True where the query and item share a label.

    Raises:
        ValueError: for malformed labels or mixed label kinds.
    """
    query_labels = np.asarray(query_labels)
    db_labels = np.asarray(db_labels)
    labels = Labels(query_labels, db_labels, len(query_labels), len(db_labels))
    return labels.relevance(slice(None))
