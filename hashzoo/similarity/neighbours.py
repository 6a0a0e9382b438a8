"""Cosine K-nearest neighbours and the shared-neighbour similarity rule.

Both run in row blocks: the K-NN search holds one `[block, N]` float32 block
of cosine similarities at a time, and the shared-neighbour counts
`C = A A^T` are formed one block of rows at a time from the sparse K-NN
indicator A, so 50,000 images never need a dense 50,000^2 matrix (about
200 MB per 1,024-row block instead of 10 GB).
"""

import numpy as np

from hashzoo.similarity.sparse import SparseSimilarity
from hashzoo.utils.validation import check_positive_int


def unit_rows(features):
    """float32 `[N, D]` features scaled to unit L2 norm (rows of zeros stay zero).

    Raises ValueError naming the shape when `features` is not a non-empty 2-D
    array, and when it holds NaN or infinity.
    """
    features = np.asarray(features, np.float32)
    if features.ndim != 2 or not len(features):
        raise ValueError(f"features must be a non-empty [N, D] array, got shape {features.shape}.")
    if not np.all(np.isfinite(features)):
        raise ValueError("features must be finite, found NaN or infinity.")
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def cosine_knn(features, k, block_size=1024):
    """Each item's `k` nearest neighbours by cosine similarity, itself first.

    Row i of the result is i (forced to rank 0, even among duplicates), then the `k`
    other items with the highest cosine similarity, best first; ties go to the
    lower index, so the result does not depend on the block size.

    Args:
        features: float `[N, D]` (need not be normalised).
        k: neighbours besides the item itself, `1 <= k < N`.
        block_size: rows of the `[block, N]` similarity block held at once.

    Returns:
        int32 `[N, k + 1]`.

    Example:

    >>> import numpy as np
    >>> f = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], "float32")
    >>> cosine_knn(f, 1).tolist()
    [[0, 1], [1, 0], [2, 3], [3, 2]]
    """
    unit = unit_rows(features)
    num_items = len(unit)
    k = check_positive_int(k, "k")
    if k >= num_items:
        raise ValueError(f"k = {k} neighbours need at least k + 1 = {k + 1} items, got {num_items}.")
    block_size = check_positive_int(block_size, "block_size")
    result = np.empty((num_items, k + 1), np.int32)
    for start in range(0, num_items, block_size):
        stop = min(start + block_size, num_items)
        rows = np.arange(start, stop)
        scores = unit[start:stop] @ unit.T
        scores[rows - start, rows] = np.inf  # the item itself ranks first
        # Candidates: the k + 1 best in any order, then the boundary ties resolved.
        candidates = np.argpartition(-scores, k, axis=1)[:, : k + 1]
        picked = np.take_along_axis(scores, candidates, axis=1)
        boundary = picked.min(axis=1, keepdims=True)
        tied = (scores >= boundary).sum(axis=1) > k + 1
        for row in np.flatnonzero(tied):
            order = np.lexsort((np.arange(num_items), -scores[row]))
            candidates[row] = order[: k + 1]
            picked[row] = scores[row, candidates[row]]
        order = np.lexsort((candidates, -picked), axis=1)
        result[start:stop] = np.take_along_axis(candidates, order, axis=1)
    return result


def knn_indicator(knn_ids, num_items=None):
    """The sparse 0/1 matrix A with `A[i, j] = 1` when j is in row i of `knn_ids`."""
    import scipy.sparse

    knn_ids = np.asarray(knn_ids, np.int64)
    num_items = len(knn_ids) if num_items is None else int(num_items)
    rows = np.repeat(np.arange(len(knn_ids)), knn_ids.shape[1])
    matrix = scipy.sparse.csr_matrix(
        (np.ones(rows.size, np.int32), (rows, knn_ids.ravel())), shape=(len(knn_ids), num_items)
    )
    matrix.sum_duplicates()
    return matrix


def shared_neighbour_sets(knn_ids, k2, block_size=4096):
    """T_i: the `k2` items sharing the most neighbours with i (itself included).

    `c_ij = |N_i ∩ N_j|` for the neighbour sets N (rows of `knn_ids`, each
    including the item itself). T_i holds i first, then the other j with the
    largest c_ij, ties to the lower index; j with c_ij = 0 is never chosen,
    so T_i can have fewer than `k2` members.

    Returns:
        A scipy CSR 0/1 matrix B with `B[i, j] = 1` for j in T_i.
    """
    import scipy.sparse

    k2 = check_positive_int(k2, "k2")
    indicator = knn_indicator(knn_ids)
    num_items = indicator.shape[0]
    transpose = indicator.T.tocsr()
    rows_out, cols_out = [], []
    for start in range(0, num_items, block_size):
        counts = (indicator[start : start + block_size] @ transpose).tocoo()
        row, col, count = counts.row.astype(np.int64) + start, counts.col.astype(np.int64), counts.data
        # Sort each row by: itself first, then count descending, then column ascending.
        order = np.lexsort((col, -count, col != row, row))
        row, col = row[order], col[order]
        first = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
        rank = np.arange(len(row)) - np.repeat(first, np.diff(np.r_[first, len(row)]))
        keep = rank < k2
        rows_out.append(row[keep])
        cols_out.append(col[keep])
    rows_out, cols_out = np.concatenate(rows_out), np.concatenate(cols_out)
    return scipy.sparse.csr_matrix(
        (np.ones(len(rows_out), np.int32), (rows_out, cols_out)), shape=(num_items, num_items)
    )


def shared_neighbour_similarity(knn_ids, k2, block_size=4096, absent=-1.0):
    """The shared-neighbour similarity: +1 pairs from K-NN lists, every other pair `absent`.

    With N_i = row i of `knn_ids` (the item and its K1 nearest neighbours)
    and T_i from `shared_neighbour_sets`, P_i is the union of N_j over
    j in T_i, and S_ik = S_ki = +1 for every k in P_i. S is symmetric, its
    diagonal is +1 and each row has at least K1 + 1 positives. Every other
    pair reads as `absent`: -1 (dissimilar, the default) or `"unknown"`
    (a neighbour similarity that only asserts positives).

    Args:
        knn_ids: int `[N, K1 + 1]`, from `cosine_knn(features, K1)`.
        k2: int, K2.
        block_size: rows of the shared-neighbour counts formed at once.
        absent: how pairs outside P read (see `SparseSimilarity`).

    Returns:
        A `SparseSimilarity` storing the +1 pairs.

    Example:

    >>> import numpy as np
    >>> f = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]], "float32")
    >>> shared_neighbour_similarity(cosine_knn(f, 1), k2=2).dense().astype(int).tolist()
    [[1, 1, -1, -1], [1, 1, -1, -1], [-1, -1, 1, 1], [-1, -1, 1, 1]]
    """
    sets = shared_neighbour_sets(knn_ids, k2, block_size=block_size)
    union = sets @ knn_indicator(knn_ids)  # non-zero where k is in N_j for some j in T_i
    return SparseSimilarity.from_scipy(union + union.T, absent=absent)
