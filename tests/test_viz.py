"""Tests for `hashzoo.viz`: retrieval grids and precision-recall plots."""

import ast
import inspect
import os
import warnings

import numpy as np
import pytest
from PIL import Image

from hashzoo import viz

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    with Image.open(path) as image:
        image.load()
        return image.size


def grey_batch(num_queries=3, num_neighbours=10, seed=0):
    rng = np.random.default_rng(seed)
    queries = rng.integers(0, 256, size=(num_queries, 8, 8, 1), dtype=np.uint8)
    neighbours = rng.integers(0, 256, size=(num_queries, num_neighbours, 8, 8, 1), dtype=np.uint8)
    query_labels = np.arange(num_queries)
    neighbour_labels = rng.integers(0, num_queries, size=(num_queries, num_neighbours))
    return queries, neighbours, query_labels, neighbour_labels


def test_matplotlib_is_imported_lazily():
    tree = ast.parse(inspect.getsource(viz))
    top_level = [
        alias.name
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ] + [node.module for node in tree.body if isinstance(node, ast.ImportFrom)]
    assert not any(name and name.startswith("matplotlib") for name in top_level)


def test_retrieval_grid_writes_a_png(tmp_path):
    path = tmp_path / "plots" / "grid.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a missing glyph for the marks
        out = viz.plot_retrieval_grid(*grey_batch(), path, title="top-10 neighbours")
    assert out == str(path)
    width, height = read_png(path)
    assert 900 <= width <= 2000 and 300 <= height <= 800
    assert os.listdir(tmp_path / "plots") == ["grid.png"]


def test_retrieval_grid_rgb_multi_label_and_relevance_override(tmp_path):
    rng = np.random.default_rng(1)
    queries = rng.integers(0, 256, size=(2, 16, 16, 3), dtype=np.uint8)
    neighbours = rng.uniform(0, 255, size=(2, 4, 16, 16, 3))  # float pixels are accepted
    query_labels = np.array([[1, 0, 1], [0, 1, 0]], bool)
    neighbour_labels = rng.integers(0, 2, size=(2, 4, 3)).astype(bool)
    labels = (query_labels, neighbour_labels)
    path = viz.plot_retrieval_grid(queries, neighbours, *labels, tmp_path / "a.png")
    width, height = read_png(path)
    assert width > 300 and height > 200
    relevant = np.ones((2, 4), bool)
    viz.plot_retrieval_grid(queries, neighbours, *labels, path, relevant=relevant)
    assert read_png(path) == (width, height)
    assert os.listdir(tmp_path) == ["a.png"]


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda q, n, ql, nl: (q[:2], n, ql, nl), "3 rows"),
        (lambda q, n, ql, nl: (q, n, ql[:2], nl), "query_labels"),
        (lambda q, n, ql, nl: (q, n, ql, nl[:, :9]), r"\(3, 10\)"),
        (lambda q, n, ql, nl: (q[..., 0], n, ql, nl), "rank 4"),
        (lambda q, n, ql, nl: (q, n[:, 0], ql, nl), "rank 5"),
        (lambda q, n, ql, nl: (np.concatenate([q, q], -1), n, ql, nl), "got 2"),
        (lambda q, n, ql, nl: (q * 300.0, n, ql, nl), "0, 255"),
    ],
)
def test_retrieval_grid_rejects_bad_input(tmp_path, change, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_retrieval_grid(*change(*grey_batch()), tmp_path / "bad.png")
    assert not os.path.exists(tmp_path / "bad.png")


def test_retrieval_grid_rejects_a_misshapen_relevance_mask(tmp_path):
    with pytest.raises(ValueError, match="relevant"):
        viz.plot_retrieval_grid(*grey_batch(), tmp_path / "bad.png", relevant=np.ones((3, 9), bool))


def pr_curve(bits, quality):
    radii = np.arange(bits + 1) / bits
    recall = radii**quality
    precision = 0.1 + 0.8 * (1 - recall) ** 2
    return recall, precision


def test_pr_curves_write_a_png(tmp_path):
    curves = {
        "LSH 32": pr_curve(32, 1.5),
        "PCA-ITQ 32": pr_curve(32, 0.7),
        "PCA-ITQ 64": pr_curve(64, 0.5),
    }
    path = tmp_path / "deep" / "pr.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = viz.plot_pr_curves(curves, path, title="digits")
    assert out == str(path)
    width, height = read_png(path)
    assert 500 <= width <= 1200 and 300 <= height <= 800
    path.write_bytes(b"old")  # an existing file is replaced whole
    viz.plot_pr_curves({"one": ([0.0, 0.5, 1.0], [1.0, 0.5, 0.1])}, path)
    assert read_png(path) == (width, height)
    assert os.listdir(tmp_path / "deep") == ["pr.png"]


@pytest.mark.parametrize(
    "curves, match",
    [
        ({"ITQ": ([0.0, 0.5, 1.0], [1.0, 0.5])}, "3 points but precision has 2"),
        ({"ITQ": ([[0.0, 1.0]], [[1.0, 0.5]])}, "1-D"),
        ({"ITQ": ([], [])}, "empty"),
        ({"ITQ": ([0.0, 1.5], [1.0, 0.5])}, "recall must lie in"),
        ({"ITQ": ([0.0, 1.0], [np.nan, 0.5])}, "precision must lie in"),
        ({"ITQ": np.zeros(3)}, "pair"),
        ({}, "non-empty"),
        ([([0.0], [1.0])], "mapping"),
    ],
)
def test_pr_curves_reject_bad_input(tmp_path, curves, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_pr_curves(curves, tmp_path / "bad.png")
    assert not os.path.exists(tmp_path / "bad.png")


def test_multi_label_captions_name_the_shared_labels():
    query = np.array([1, 0, 1, 1], bool)
    assert viz._caption(0, query, np.array([1, 1, 0, 1], bool), "✓") == "1: 0,1,3 ✓\nshared: 0,3"
    assert viz._caption(4, query, np.array([0, 1, 0, 0], bool), "✗") == "5: 1 ✗\nshared: -"
    assert viz._caption(2, np.int64(7), np.int64(7), "✓") == "3: 7 ✓"  # class ids: no shared line
