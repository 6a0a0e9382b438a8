"""The distinct label sets of a training split, and what stage 1 reports about LabNet (docs/sadh.md).

SADH's dictionaries hold LabNet's outputs for every distinct training label
set, sorted lexicographically so that the same labels always give the same
rows in the same order.

>>> import numpy as np
>>> distinct_label_sets(np.array([[0, 1], [1, 0], [0, 1], [1, 1]]))
array([[0., 1.],
       [1., 0.],
       [1., 1.]], dtype=float32)
>>> distinct_label_sets(np.array([2, 0, 2]), num_classes=3)
array([[0., 0., 1.],
       [1., 0., 0.]], dtype=float32)
"""

import numpy as np


def label_vectors(labels, num_classes=None):
    """Class ids `[N]` (or `[N, 1]`) to one-hot float32 `[N, num_classes]`; multi-hot `[N, C]` to float32."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1 and (num_classes or 0) > 1:
        labels = labels[:, 0]
    if labels.ndim == 1:
        if num_classes is None:
            raise ValueError("class-id labels need num_classes to become label vectors.")
        ids = labels.astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            raise ValueError(f"class ids must lie in [0, {num_classes}), got {ids.min()}..{ids.max()}.")
        return np.eye(num_classes, dtype=np.float32)[ids]
    if labels.ndim != 2:
        raise ValueError(f"labels must be class ids [N] or multi-hot [N, C], got shape {labels.shape}.")
    if num_classes is not None and labels.shape[1] != num_classes:
        raise ValueError(f"multi-hot labels have {labels.shape[1]} columns, expected num_classes={num_classes}.")
    return (labels > 0).astype(np.float32)


def distinct_label_sets(labels, num_classes=None):
    """The distinct rows of the label vectors, sorted lexicographically (float32 `[M, C]`)."""
    vectors = label_vectors(labels, num_classes)
    if len(vectors) == 0:
        raise ValueError("no training labels to build the dictionaries from.")
    return np.unique(vectors.astype(np.int8), axis=0).astype(np.float32)


def jaccard_matrix(labels_a, labels_b):
    """`[n, m]` Jaccard similarity of label sets (0 when both are empty)."""
    a = np.asarray(labels_a, np.float32) > 0
    b = np.asarray(labels_b, np.float32) > 0
    shared = a.astype(np.float32) @ b.T.astype(np.float32)
    union = a.sum(1, keepdims=True) + b.sum(1)[None, :] - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)


def margin_label_correlation(margins, labels):
    """Spearman rank correlation between mu and the Jaccard similarity over distinct pairs of label sets.

    `margins` `[M, M]` are mu between dictionary rows, `labels` `[M, C]` the
    rows' label sets. NaN when fewer than 3 pairs or a side is constant.
    """
    from scipy.stats import spearmanr

    margins = np.asarray(margins, np.float64)
    upper = np.triu_indices(len(margins), k=1)
    if len(upper[0]) < 3:
        return float("nan")
    x, y = margins[upper], jaccard_matrix(labels, labels)[upper]
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def label_code_map(codes, labels, max_queries=1000):
    """mAP@all of label-set codes retrieving label sets ("share a label" relevance), the stage-1 check.

    Queries are the first `max_queries` rows; the database is every row.
    """
    from hashzoo import codes as codes_lib
    from hashzoo.metrics import mean_average_precision

    binary = codes_lib.binarize(np.asarray(codes))
    labels = np.asarray(labels, np.float32)
    count = min(int(max_queries), len(binary))
    return float(mean_average_precision(binary[:count], labels[:count], binary, labels))


__all__ = ["distinct_label_sets", "jaccard_matrix", "label_code_map", "label_vectors", "margin_label_correlation"]
