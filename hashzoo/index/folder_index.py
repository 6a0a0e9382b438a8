"""An index of an image folder: codes, relative paths and the model that made them, in one file.

`tools/index.py` is the command line over these functions (docs/search.md,
"Indexing an image folder"). The index file is one `.npz` (see
`hamming_index.save_arrays`) holding the packed codes, their ids (0, 1, ...),
the image paths relative to the folder, and a manifest: the model's name,
how to load it again, its weights' sha256, the code length and the input
contract. It is always written whole to a temporary file and renamed onto
the index path, so a killed `build` or `add` leaves the previous index (or
none) and never a half-written one.
"""

import json
import pathlib

import numpy as np

from hashzoo.index.hamming_index import HammingIndex, load_arrays, save_arrays
from hashzoo.utils.io import clean_stale_partials

KIND = "folder"


# -- files and images --------------------------------------------------------------------


def image_paths(folder):
    """Every image file under `folder` (any depth, hidden entries skipped), as sorted relative paths.

    Raises:
        ValueError: when `folder` is missing, a file, or holds no image.
    """
    from hashzoo.data.image_folder import IMAGE_EXTENSIONS

    folder = pathlib.Path(folder).expanduser()
    if not folder.is_dir():
        raise ValueError(f"image folder {folder} {'is a file' if folder.exists() else 'does not exist'}; "
                         "pass a folder of images (PNG/JPEG, any depth).")
    found = sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )
    if not found:
        raise ValueError(f"image folder {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)}, at any depth).")
    return found


def load_images(files, image_size, channels):
    """Decodes image files into uint8 `[n, height, width, channels]`, resized like the folder loader.

    Uses the decoding of `hashzoo.data.image_folder` (EXIF orientation,
    grey/RGB conversion, an error naming an unreadable file) and its
    Pillow bilinear resize.
    """
    from PIL import Image

    from hashzoo.data.image_folder import _open

    height, width = image_size
    mode = "L" if channels == 1 else "RGB"
    batch = np.empty((len(files), height, width, channels), np.uint8)
    for row, file in enumerate(files):
        image = _open(file, mode)
        if (image.height, image.width) != (height, width):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        batch[row] = np.asarray(image, np.uint8).reshape(height, width, channels)
    return batch


# -- the model ---------------------------------------------------------------------------


def model_record(model, source):
    """What the manifest keeps about a model: name, source to reload it, weights sha256, bits, contract."""
    from hashzoo.finetune import weights_digest

    card = model.card
    source = str(source)
    if pathlib.Path(source).expanduser().exists():
        source = str(pathlib.Path(source).expanduser().resolve())
    return {
        "name": card.get("preset") or card.get("name") or pathlib.Path(source).name,
        "source": source,
        "weights_sha256": card.get("weights_sha256") or weights_digest(model),
        "bits": int(model.code_bits),
        "image_size": [int(v) for v in model.preprocessing.image_size],
        "channels": int(model.preprocessing.channels),
    }


def check_same_model(manifest, record, index_path):
    """Raises unless `record` (the model given now) is the model the index was built with."""
    if record["weights_sha256"] != manifest["model"]["weights_sha256"]:
        built = manifest["model"]
        raise ValueError(
            f"index {index_path} was built with {built['name']} (weights sha256 {built['weights_sha256'][:12]}...), "
            f"not with {record['name']} (sha256 {record['weights_sha256'][:12]}...); its codes are not comparable. "
            "Leave out --preset/--model to use the index's model, or build a new index."
        )


def encode_files(model, root, paths, batch_size, verbose=1):
    """Packed codes of the images `root/paths`, encoded `batch_size` at a time with a progress bar."""
    from keras.utils import Progbar

    size, channels = tuple(model.preprocessing.image_size), model.preprocessing.channels
    packed = np.empty((len(paths), (model.code_bits + 7) // 8), np.uint8)
    bar = Progbar(len(paths), unit_name="image") if verbose else None
    for start in range(0, len(paths), batch_size):
        names = paths[start:start + batch_size]
        images = load_images([pathlib.Path(root) / name for name in names], size, channels)
        packed[start:start + len(names)] = model.encode_packed(images, batch_size=batch_size)
        if bar is not None:
            bar.add(len(names))
    return packed


# -- the index file ----------------------------------------------------------------------


def write_index(path, packed, paths, manifest):
    """Writes the index file atomically (temporary file, then rename)."""
    clean_stale_partials(path)  # temporaries of killed earlier writes
    # Tests kill the process at `index-half`: the previous index (or none) must stay in place.
    save_arrays(path, packed, np.arange(len(packed), dtype=np.int64), manifest["model"]["bits"], kind=KIND,
                extra={"paths": np.array(paths, dtype=np.str_), "manifest": np.str_(json.dumps(manifest))},
                kill_name="index")
    return path


def read_index(path):
    """`(packed, paths, manifest)` of an index file.

    Raises:
        ValueError: when the file is missing or not a folder index.
    """
    path = pathlib.Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"index {path} does not exist; create it with `tools/index.py build`.")
    arrays = load_arrays(path, kind=KIND)
    return arrays["packed"], [str(p) for p in arrays["paths"]], json.loads(str(arrays["manifest"]))


def open_search_index(packed, bits):
    """An exact `HammingIndex` over an index file's codes (ids = rows)."""
    index = HammingIndex(bits)
    index.add(packed)
    return index


def build(model, source, folder, index_path, batch_size=256, verbose=1):
    """Encodes every image under `folder` and writes a new index; returns the number of images."""
    folder = pathlib.Path(folder).expanduser().resolve()
    paths = image_paths(folder)
    packed = encode_files(model, folder, paths, batch_size, verbose)
    manifest = {"root": str(folder), "model": model_record(model, source)}
    write_index(index_path, packed, paths, manifest)
    return len(paths)


def add(model, index_path, folder=None, batch_size=256, verbose=1):
    """Encodes the images under the folder that the index does not hold yet and rewrites it; returns their count."""
    packed, paths, manifest = read_index(index_path)
    folder = pathlib.Path(folder or manifest["root"]).expanduser().resolve()
    known = set(paths)
    new = [name for name in image_paths(folder) if name not in known]
    if not new:
        return 0
    codes = encode_files(model, folder, new, batch_size, verbose)
    manifest = dict(manifest, root=str(folder))
    write_index(index_path, np.concatenate([packed, codes]), paths + new, manifest)
    return len(new)


def query(model, index_path, images, k=None, radius=None, batch_size=256):
    """Neighbours of image files in the index: a list of dicts, one per query image.

    Each dict has `query` (the path given) and `neighbours`: `id`,
    `distance`, `path` (relative to the index's folder), in (distance, id)
    order; top-k when `k` is given, else everything within `radius`.
    """
    packed, paths, manifest = read_index(index_path)
    bits = manifest["model"]["bits"]
    size, channels = manifest["model"]["image_size"], manifest["model"]["channels"]
    queries = model.encode_packed(load_images([pathlib.Path(p).expanduser() for p in images], size, channels),
                                  batch_size=batch_size)
    index = open_search_index(packed, bits)
    if k is not None:
        distances, ids = index.search(queries, min(k, len(index)))
        rows = list(zip(distances, ids))
    else:
        rows = index.range_search(queries, radius)
    return [
        {"query": str(image),
         "neighbours": [{"id": int(i), "distance": int(d), "path": paths[i]} for d, i in zip(dists, ids)]}
        for image, (dists, ids) in zip(images, rows)
    ]


def duplicates(index_path, radius, block=4096):
    """Groups of near-duplicates: connected images within `radius` of each other (single linkage).

    Returns a list of groups (lists of relative paths, sorted), largest
    first, only groups of two or more.
    """
    packed, paths, manifest = read_index(index_path)
    index = open_search_index(packed, manifest["model"]["bits"])
    parent = np.arange(len(paths))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, len(paths), block):
        for row, (_, ids) in enumerate(index.range_search(packed[start:start + block], radius), start):
            for other in ids[ids > row]:
                a, b = root(row), root(int(other))
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups = {}
    for i in range(len(paths)):
        groups.setdefault(root(i), []).append(paths[i])
    found = [sorted(g) for g in groups.values() if len(g) > 1]
    return sorted(found, key=lambda g: (-len(g), g[0]))


def retrieval_grid(model, index_path, image, k, out):
    """A PNG of one query image and its top-k neighbours; frames say whether a neighbour shares the
    query's top-level sub-folder (its class, for a folder of class sub-folders)."""
    from hashzoo import viz

    _, paths, manifest = read_index(index_path)
    result = query(model, index_path, [image], k=k)[0]["neighbours"]
    size, channels = manifest["model"]["image_size"], manifest["model"]["channels"]
    root = pathlib.Path(manifest["root"])
    query_image = load_images([pathlib.Path(image).expanduser()], size, channels)
    neighbours = load_images([root / n["path"] for n in result], size, channels)[None]
    classes = sorted({p.split("/")[0] for p in paths})
    label = {name: i for i, name in enumerate(classes)}
    neighbour_labels = np.array([[label[n["path"].split("/")[0]] for n in result]])
    try:
        top = pathlib.Path(image).expanduser().resolve().relative_to(root).parts[0]
        query_labels = np.array([label.get(top, -1)])
    except ValueError:
        query_labels = np.array([-1])
    relevant = None if query_labels[0] >= 0 else np.ones(neighbour_labels.shape, bool)
    return viz.plot_retrieval_grid(query_image, neighbours, query_labels, neighbour_labels, out,
                                   title=f"{pathlib.Path(image).name}: top-{len(result)} of {len(paths)} "
                                         f"({manifest['model']['name']})", relevant=relevant)
