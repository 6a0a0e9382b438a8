"""Where the shared developer data lives.

The repository is checked out next to a `shared/` folder that holds data too
large or too licensed to commit (the real 6,102-image CIFAR-10 subset). Tests,
tools and the demo find it through `shared_data_dir()`, so nobody hard-codes an
absolute path.
"""

import os
import pathlib

#: Environment variable that overrides the shared data folder.
DATA_ENV_VAR = "HASHZOO_DATA"

#: Name of the official CIFAR-10 python-pickle folder.
CIFAR10_FOLDER = "cifar-10-batches-py"


def shared_data_dir():
    """Returns the folder that holds the shared developer data.

    `$HASHZOO_DATA` when it is set (used as given, even if it does not exist,
    so a typo shows up in the error of whatever reads it); otherwise
    `<repository>/../shared/data`, resolved to an absolute path.

    The folder may be missing on a fresh machine: check `.is_dir()` before use
    (tests skip with a message saying which path they looked at).

    Returns:
        A `pathlib.Path`.
    """
    override = os.environ.get(DATA_ENV_VAR)
    if override:
        return pathlib.Path(override).expanduser().resolve()
    repository = pathlib.Path(__file__).resolve().parents[2]
    return (repository.parent / "shared" / "data").resolve()


def cifar10_subset_dir():
    """Returns `shared_data_dir() / "cifar-10-batches-py"` (may not exist)."""
    return shared_data_dir() / CIFAR10_FOLDER
