"""Atomic file and folder writes: nothing half-written is ever left in place.

Every temporary name carries its writer, `<host>-<pid>`:

- `atomic_open(path)` writes `.<name>.<host>-<pid>.<random>.partial` beside
  `path` and renames it onto `path` when complete;
- `atomic_directory(path)` fills the folder `.<name>.<host>-<pid>.<random>.partial`
  and renames it onto `path` when complete.

A process killed mid-write leaves its temporary behind; `clean_stale_partials`
(called by `atomic_directory` and by the training core before a run) removes
those whose writer is gone, and never one a live process on this host is
still writing (docs/zoo.md, "Training runs").

`kill_point` is a test-only hook: it lets the kill tests stop a process at a
chosen point of a write (see its docstring). It does nothing unless the
environment variable `HASHZOO_TEST_KILL_AT` is set.
"""

import contextlib
import hashlib
import json
import os
import pathlib
import shutil
import signal
import socket
import sys
import tempfile
import time
import uuid

PARTIAL_SUFFIX = ".partial"

#: When this module was imported: a temporary with no writer in its name (written
#: by an older hashzoo) counts as stale only when it is older than this.
_STARTED = time.time()


def host_tag():
    """This host's name as used in temporary names (no dots)."""
    return socket.gethostname().replace(".", "_").replace("/", "_") or "host"


def writer_tag():
    """`<host>-<pid>`: who writes a temporary file or folder."""
    return f"{host_tag()}-{os.getpid()}"


def partial_name(name, suffix=""):
    """A fresh temporary name for `name`: `.<name>.<host>-<pid>.<random>.partial<suffix>`.

    `suffix` keeps an ending a writer insists on (Keras: `.weights.h5`).
    """
    return f".{name}.{writer_tag()}.{uuid.uuid4().hex[:12]}{PARTIAL_SUFFIX}{suffix}"


def is_partial(entry_name):
    """True for a temporary's name: hidden, with `.partial` in it."""
    return entry_name.startswith(".") and PARTIAL_SUFFIX in entry_name


def _writer(entry_name):
    """`(host, pid)` of the temporary `entry_name`, or None when its name records no writer."""
    head = entry_name[: entry_name.rindex(PARTIAL_SUFFIX)]
    parts = head.rsplit(".", 2)
    if len(parts) < 3:
        return None
    host, _, pid = parts[1].rpartition("-")
    return (host, int(pid)) if host and pid.isdigit() else None


def pid_alive(pid):
    """True when process `pid` runs on this host (or cannot be checked: another user's)."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(partial):
    """True when nobody can still be writing the temporary `partial` (a path).

    Its writer (from the name) is a process of this host that has ended; or
    the name records no writer (an older hashzoo's) and it is older than this
    process. A temporary of another host (a shared folder) is never stale
    here, nor one of a live process.
    """
    partial = pathlib.Path(partial)
    writer = _writer(partial.name)
    if writer is None:
        try:
            return partial.lstat().st_mtime < _STARTED
        except FileNotFoundError:
            return False
    host, pid = writer
    if host != host_tag():
        return False
    return pid != os.getpid() and not pid_alive(pid)


def clean_stale_temporaries(folder):
    """Removes every stale temporary (`is_stale`) directly in `folder`; returns the paths removed.

    For folders hashzoo owns (a run's backup folder). Beside a user's output,
    use `clean_stale_partials(path)`, which touches only that path's own.
    """
    folder = pathlib.Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        if is_partial(entry.name) and is_stale(entry):
            _remove(entry)
            removed.append(entry)
    return removed


def clean_stale_partials(path):
    """Removes the temporaries of `path` (`.<name>.*.partial` beside it) left by killed writers.

    Also removes `.<name>.old-<pid>` folders of an `atomic_directory`
    overwrite whose process died after `path` was in place again; when the
    kill came between the two renames (no `path`), the old folder is put back.

    Returns:
        The paths removed, sorted.
    """
    path = pathlib.Path(path)
    parent, name = path.parent, path.name
    removed = []
    if not parent.is_dir():
        return removed
    prefix = f".{name}."
    for entry in sorted(parent.iterdir()):
        if not entry.name.startswith(prefix):
            continue
        rest = entry.name[len(prefix):]
        if is_partial(entry.name):
            if is_stale(entry):
                _remove(entry)
                removed.append(entry)
        elif rest.startswith("old-") and rest[4:].isdigit() and int(rest[4:]) != os.getpid() \
                and not pid_alive(int(rest[4:])):
            if path.exists():
                _remove(entry)
                removed.append(entry)
            else:
                os.replace(entry, path)
    return removed


def _remove(entry):
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path, mode="wb"):
    """Opens a temporary file beside `path`; it replaces `path` only on success.

    The data is flushed and fsynced before the rename. On error the
    temporary file is removed and `path` is untouched. Created with mode
    0o666 so the umask applies (tempfile would make it private, 0o600).
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / partial_name(path.name)
    try:
        with os.fdopen(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def sha256_file(path):
    """The sha256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    case it is replaced only after the new folder is complete. Temporaries of
    `path` left by killed writers are removed first (`clean_stale_partials`).
    """
    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"output path {path} exists and is not a folder.")
    clean_stale_partials(path)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise ValueError(f"output folder {path} already exists and is not empty; choose another or allow overwrite.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.{writer_tag()}.", suffix=PARTIAL_SUFFIX,
                                         dir=path.parent))
    # mkdtemp makes the folder private (0o700); give it the usual mode under the umask.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp, 0o777 & ~umask)
    try:
        yield temp
        kill_point("folder-replace")
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


# -- test-only hook ------------------------------------------------------------------

#: Environment variable read by `kill_point` (tests only).
KILL_ENV = "HASHZOO_TEST_KILL_AT"
_kill_counts = {}


def kill_point(name):
    """Test-only: kills (or stops) this process at the named point when `HASHZOO_TEST_KILL_AT` asks.

    `HASHZOO_TEST_KILL_AT=<point>[@<n>][:stop]` makes the `n`-th call (default
    the first) of `kill_point(<point>)` in this process send itself SIGKILL,
    or SIGSTOP with `:stop`, so that a test can `kill -9` it by PID at exactly
    that point. Points: `step` (after a training step of the main fit),
    `<kind>-half` (half of a temporary weights file written) and
    `<kind>-replace` (the temporary complete, before its rename) for the
    kinds `checkpoint` (epoch checkpoint), `best` (best-epoch weights) and
    `stage`; `fit-done` (the fit recorded, before the preset is written);
    `folder-replace` (an `atomic_directory` complete, before its rename).
    Never set it outside tests: the process dies at that point.
    """
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return
    spec, _, action = spec.partition(":")
    point, _, nth = spec.partition("@")
    if point != name:
        return
    _kill_counts[name] = _kill_counts.get(name, 0) + 1
    if _kill_counts[name] != int(nth or 1):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)


def kill_requested(name):
    """True when `HASHZOO_TEST_KILL_AT` names the point `name` (tests only; see `kill_point`)."""
    spec = os.environ.get(KILL_ENV) or ""
    return spec.partition(":")[0].partition("@")[0] == name


def kill_is_next(name):
    """True when the next `kill_point(name)` call is the one that kills (tests only; see `kill_point`).

    For points that damage a file first (`<kind>-half` truncates its
    temporary): only the write that is killed may be damaged.
    """
    if not kill_requested(name):
        return False
    nth = (os.environ.get(KILL_ENV) or "").partition(":")[0].partition("@")[2]
    return _kill_counts.get(name, 0) + 1 == int(nth or 1)


__all__ = [
    "KILL_ENV", "PARTIAL_SUFFIX", "atomic_directory", "atomic_open", "atomic_write_bytes", "atomic_write_json",
    "clean_stale_partials", "clean_stale_temporaries", "host_tag", "is_partial", "is_stale", "kill_point",
    "kill_is_next", "kill_requested", "partial_name", "pid_alive", "sha256_file", "writer_tag",
]
