"""Atomic file and folder writes: nothing half-written is ever left in place."""

import contextlib
import json
import os
import pathlib
import shutil
import tempfile
import uuid


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """Opens a temporary file beside `path`; it replaces `path` only on success.

    The data is flushed and fsynced before the rename. On error the
    temporary file is removed and `path` is untouched. Created with mode
    0o666 so the umask applies (tempfile would make it private, 0o600).
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{uuid.uuid4().hex}.partial"
    try:
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data):
    """Writes `data` to `path` atomically (see `atomic_open`)."""
    with atomic_open(path) as handle:
        handle.write(data)
    return str(path)


def atomic_write_json(path, value):
    """Writes `value` as indented JSON, atomically."""
    return atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """Yields a temporary sibling folder; it becomes `path` only on success.

    An existing non-empty `path` is an error unless `overwrite=True`, in which
    case it is replaced only after the new folder is complete.
    """
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output path {path} exists and is not a folder.")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ValueError(f"output folder {path} already exists and is not empty; choose another or allow overwrite.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    # mkdtemp makes the folder private (0o700); give it the usual mode under the umask.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o777 & ~umask)
    try:
        yield temp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(temp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, path)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
