# matplotlib (Agg canvas, imported lazily): the well-kept standard for writing PNG plots.
"""Pictures of retrieval results: neighbour grids and precision-recall curves.

Both functions write a PNG atomically (a temp file in the destination folder,
then `os.replace`), create the folder if needed and return the path.
matplotlib is imported inside the functions, so `import hashzoo` never pays
for it, and figures are drawn on an Agg canvas without touching pyplot's
global state.
"""

import os

import numpy as np

from hashzoo.utils.io import atomic_open

_CELL_INCHES = 1.15
_DPI = 100
_RELEVANT_COLOUR = "#2e7d32"
_WRONG_COLOUR = "#d32f2f"
_QUERY_COLOUR = "#1565c0"


def _check_pixels(images, rank, name):
    """Checks uint8 (or float in [0, 255]) images of the given rank with C in {1, 3}."""
    array = np.asarray(images)
    if array.ndim != rank:
        layout = "[Q, H, W, C]" if rank == 4 else "[Q, K, H, W, C]"
        raise ValueError(
            f"`{name}` must have rank {rank} `{layout}`, got rank {array.ndim} "
            f"with shape {array.shape}."
        )
    if array.shape[-1] not in (1, 3):
        raise ValueError(
            f"`{name}` must have 1 (grey) or 3 (RGB) channels in the last axis, "
            f"got {array.shape[-1]} (shape {array.shape})."
        )
    if array.size == 0:
        raise ValueError(f"`{name}` is empty (shape {array.shape}).")
    if array.dtype == np.uint8:
        return array
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"`{name}` must be uint8 pixels, got dtype {array.dtype}.")
    low, high = array.min(), array.max()
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
        raise ValueError(f"`{name}` must hold pixels in [0, 255], got values in [{low}, {high}].")
    return np.round(array).astype(np.uint8)


def _label_text(label):
    """A short caption for a class id or a multi-hot label row."""
    label = np.asarray(label)
    if label.ndim == 0:
        return str(label.item())
    positives = np.flatnonzero(label).tolist()
    if not positives:
        return "-"
    text = ",".join(str(i) for i in positives[:3])
    return text + ("…" if len(positives) > 3 else "")


def _caption(rank, query_label, neighbour_label, mark):
    """A neighbour's caption: rank, labels and mark; multi-label rows add the labels it shares with the query."""
    caption = f"{rank + 1}: {_label_text(neighbour_label)} {mark}"
    if np.ndim(query_label) == 1:
        shared = (np.asarray(query_label) != 0) & (np.asarray(neighbour_label) != 0)
        caption += f"\nshared: {_label_text(shared)}"
    return caption


def _check_grid_labels(query_labels, neighbour_labels, relevant, num_queries, num_neighbours):
    """Validates the labels and returns the `[Q, K]` bool relevance mask."""
    query_labels = np.asarray(query_labels)
    neighbour_labels = np.asarray(neighbour_labels)
    if query_labels.ndim not in (1, 2) or query_labels.shape[0] != num_queries:
        raise ValueError(
            f"`query_labels` must be class ids `[Q]` or multi-hot `[Q, C]` with Q={num_queries} "
            f"(the number of query images), got shape {query_labels.shape}."
        )
    expected = (num_queries, num_neighbours) + query_labels.shape[1:]
    if neighbour_labels.shape != expected:
        raise ValueError(
            f"`neighbour_labels` must have shape {expected} to match the neighbour images "
            f"and `query_labels`, got {neighbour_labels.shape}."
        )
    if relevant is not None:
        relevant = np.asarray(relevant)
        if relevant.shape != (num_queries, num_neighbours):
            raise ValueError(
                f"`relevant` must have shape {(num_queries, num_neighbours)}, got {relevant.shape}."
            )
        return relevant.astype(bool)
    if query_labels.ndim == 1:
        return neighbour_labels == query_labels[:, None]
    return np.any((query_labels[:, None, :] != 0) & (neighbour_labels != 0), axis=-1)


def _save_png(figure, path):
    """Renders `figure` to `path` atomically and returns the path as a string."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    with atomic_open(path) as handle:
        figure.savefig(handle, format="png", dpi=_DPI)
    return os.fspath(path)


def _show(axis, image, frame_colour, frame_width):
    if image.shape[-1] == 1:
        axis.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        axis.imshow(image, interpolation="nearest")
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_edgecolor(frame_colour)
        spine.set_linewidth(frame_width)


def plot_retrieval_grid(
    query_images,
    neighbour_images,
    query_labels,
    neighbour_labels,
    path,
    title=None,
    relevant=None,
):
    """Draws one row per query: the query, then its ranked neighbours.

    Relevant neighbours get a thin green frame and a ✓; wrong ones a thick red
    frame and a ✗. Each query is captioned with its precision over the
    neighbours shown (P@K); with multi-hot labels each neighbour's caption also
    lists the labels it shares with its query, which is what makes it relevant.

    Args:
        query_images: uint8 `[Q, H, W, C]`, C 1 (shown in grey) or 3 (RGB);
            float pixels in [0, 255] are rounded to uint8.
        neighbour_images: uint8 `[Q, K, H', W', C']`, the top-K neighbours of
            each query in rank order (typically K = 10).
        query_labels: class ids `[Q]` or multi-hot `[Q, L]`.
        neighbour_labels: class ids `[Q, K]` or multi-hot `[Q, K, L]`.
        path: destination PNG file; its folder is created if needed.
        title: optional figure title.
        relevant: optional bool `[Q, K]` overriding the relevance computed
            from the labels (same class, or at least one shared label).

    Returns:
        The path written, as a string.
    """
    query_images = _check_pixels(query_images, 4, "query_images")
    neighbour_images = _check_pixels(neighbour_images, 5, "neighbour_images")
    num_queries, num_neighbours = neighbour_images.shape[:2]
    if query_images.shape[0] != num_queries:
        raise ValueError(
            f"`query_images` has {query_images.shape[0]} queries but `neighbour_images` has "
            f"{num_queries} rows; pass one row of neighbours per query."
        )
    relevant = _check_grid_labels(
        query_labels, neighbour_labels, relevant, num_queries, num_neighbours
    )
    query_labels = np.asarray(query_labels)
    neighbour_labels = np.asarray(neighbour_labels)

    from matplotlib.figure import Figure

    columns = num_neighbours + 1
    header = 0.6 if title else 0.3
    footer = 0.25
    figure = Figure(
        figsize=(
            _CELL_INCHES * columns + 0.3,
            _CELL_INCHES * 1.3 * num_queries + header + footer,
        )
    )
    grid = figure.add_gridspec(
        num_queries,
        columns,
        width_ratios=[1.25] + [1] * num_neighbours,
        left=0.01,
        right=0.99,
        bottom=footer / figure.get_figheight(),
        top=1 - header / figure.get_figheight(),
        wspace=0.12,
        hspace=0.45,
    )
    for row in range(num_queries):
        axis = figure.add_subplot(grid[row, 0])
        _show(axis, query_images[row], _QUERY_COLOUR, 3.0)
        axis.set_title(f"query: {_label_text(query_labels[row])}", fontsize=9, color=_QUERY_COLOUR)
        precision = float(np.mean(relevant[row]))
        axis.set_xlabel(f"P@{num_neighbours} = {precision:.2f}", fontsize=8)
        for rank in range(num_neighbours):
            good = bool(relevant[row, rank])
            colour = _RELEVANT_COLOUR if good else _WRONG_COLOUR
            axis = figure.add_subplot(grid[row, rank + 1])
            _show(axis, neighbour_images[row, rank], colour, 1.5 if good else 3.5)
            caption = _caption(rank, query_labels[row], neighbour_labels[row, rank], "✓" if good else "✗")
            axis.set_title(
                caption, fontsize=8, color=colour, fontweight="normal" if good else "bold"
            )
    if title:
        figure.suptitle(title, fontsize=11, y=1 - 0.08 / figure.get_figheight())
    return _save_png(figure, path)


def _check_curve(label, curve):
    if not isinstance(curve, (tuple, list)) or len(curve) != 2:
        raise ValueError(
            f"curve {label!r} must be a pair (recall, precision), got {type(curve).__name__}."
        )
    recall, precision = (np.asarray(values, dtype=np.float64) for values in curve)
    if recall.ndim != 1 or precision.ndim != 1:
        raise ValueError(
            f"curve {label!r}: recall and precision must be 1-D, got shapes "
            f"{recall.shape} and {precision.shape}."
        )
    if recall.shape != precision.shape:
        raise ValueError(
            f"curve {label!r}: recall has {recall.shape[0]} points but precision has "
            f"{precision.shape[0]}; they must match (one point per Hamming radius)."
        )
    if recall.size == 0:
        raise ValueError(f"curve {label!r} is empty.")
    for name, values in (("recall", recall), ("precision", precision)):
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
            raise ValueError(
                f"curve {label!r}: {name} must lie in [0, 1], got values in "
                f"[{np.nanmin(values)}, {np.nanmax(values)}]."
            )
    return recall, precision


def plot_pr_curves(curves, path, title=None):
    """Draws precision-recall curves over Hamming radii, one line per row label.

    Args:
        curves: mapping from a row label (e.g. `"PCA-ITQ 32"`) to a pair
            `(recall, precision)` of equal-length 1-D arrays in [0, 1], one
            point per Hamming radius r = 0..b (docs/evaluation.md, "PR curves").
        path: destination PNG file; its folder is created if needed.
        title: optional axes title; defaults to "Precision-recall over
            Hamming radii".

    Returns:
        The path written, as a string.
    """
    if not hasattr(curves, "items") or len(curves) == 0:
        raise ValueError(
            "`curves` must be a non-empty mapping from a row label to (recall, precision), "
            f"got {curves!r}."
        )
    checked = {str(label): _check_curve(label, curve) for label, curve in curves.items()}

    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.6, 4.8))
    axis = figure.add_subplot()
    markers = "osD^v<>ph*"
    for index, (label, (recall, precision)) in enumerate(checked.items()):
        axis.plot(
            recall,
            precision,
            marker=markers[index % len(markers)],
            markersize=3.5,
            linewidth=1.6,
            label=label,
        )
    axis.set_xlim(0.0, 1.0)
    axis.set_ylim(0.0, 1.02)
    axis.set_xlabel("recall")
    axis.set_ylabel("precision")
    axis.set_title(title or "Precision-recall over Hamming radii")
    axis.grid(True, alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    figure.tight_layout()
    return _save_png(figure, path)
