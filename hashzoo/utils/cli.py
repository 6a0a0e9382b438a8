"""Shared command-line rules of the `tools/*.py` scripts: every flag is checked before any work.

A tool parses its flags with `parse_flags` (pass it to absl's
`app.run(main, flags_parser=parse_flags)`): a flag absl itself rejects (an
unknown flag, `--bits=abc` for an integer, a missing required flag, a value
outside an enum) becomes one `error:` line on stderr and exit status
`EXIT_USAGE` (2), instead of absl's usage dump and status 1. Then, first
thing in `main`, the tool collects the messages of its own checks (the
`check_*` helpers here return a message or None) and hands them to
`report_errors`, which prints each as an `error:` line and returns 2, so a
bad command fails before any model or data loads.

Tools that adopt it: tools/export.py, tools/evaluate.py, tools/index.py, tools/make_preset.py.

>>> check_positive_int(0, "--bits")
'--bits must be an integer >= 1, got 0.'
>>> check_positive_int(16, "--bits") is None
True
>>> check_positive_float(float("nan"), "--learning_rate")
'--learning_rate must be a finite number > 0, got nan.'
"""

import math
import os
import pathlib
import sys

from absl import flags

#: The exit status of a tool given bad flags (nothing was done).
EXIT_USAGE = 2


def parse_flags(argv):
    """absl's flag parsing, with a bad flag reported as one `error:` line and exit status 2."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        print(f"error: {str(error).rstrip('.')} (see --help for the flags).", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def define_threads_flag():
    """`--threads`, shared by the training tools (tools/train.py, tools/finetune.py); apply it with `set_threads`."""
    flags.DEFINE_integer(
        "threads", 0, "CPU threads TensorFlow may use within one op and across ops (0: its default, every core). "
        "On a small CPU, side-by-side runs with --threads 1 each do more work per hour than one run on every "
        "core (docs/zoo.md, \"Training runs\").", lower_bound=0,
    )


def set_threads(threads):
    """Caps TensorFlow's CPU thread pools at `threads` (0 leaves them); call before TensorFlow runs an op."""
    if not threads:
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    print(f"TensorFlow threads: {tf.config.threading.get_intra_op_parallelism_threads()} within an op, "
          f"{tf.config.threading.get_inter_op_parallelism_threads()} across ops")


def report_errors(errors, stream=None):
    """Prints each message as an `error:` line on stderr; returns `EXIT_USAGE`, or 0 when there is none."""
    errors = [message for message in errors if message]
    for message in errors:
        print(f"error: {message}", file=stream or sys.stderr)
    return EXIT_USAGE if errors else 0


def check_no_arguments(argv):
    """A message when words other than flags follow the program name (`argv` as absl passes it)."""
    if len(argv) > 1:
        return f"unexpected arguments {list(argv[1:])}; every option is a --flag (see --help)."
    return None


def check_positive_int(value, flag, minimum=1):
    """A message unless `value` is an integer >= `minimum` (None means unset and passes)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return f"{flag} must be an integer >= {minimum}, got {value!r}."
    return None


def check_positive_float(value, flag):
    """A message unless `value` is a finite number > 0 (None means unset and passes); e.g. a learning rate."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        return f"{flag} must be a finite number > 0, got {value!r}."
    return None


def check_not_empty(value, flag, what):
    """A message when the string flag `value` is given but empty or blank."""
    if value is not None and not str(value).strip():
        return f"{flag} is empty; pass {what}."
    return None


def check_existing_folder(value, flag, what="a folder"):
    """A message unless `value` (when given) is an existing folder; a file is named as such."""
    if value is None or not str(value).strip():
        return None
    path = pathlib.Path(value).expanduser()
    if path.is_file():
        return f"{flag} {value!r} is a file; expected {what}."
    if not path.is_dir():
        return f"{flag} {value!r} does not exist; expected {what}."
    return None


def _first_existing(path):
    """The first of `path` and its parents that exists (for a relative path, at worst the working folder)."""
    return next((candidate for candidate in (path, *path.parents) if candidate.exists()), None)


def check_output_folder(value, flag):
    """A message when the output folder `value` cannot be one: a file, under a file, or not writable.

    The folder itself is checked when it exists, else the nearest existing
    folder above it (where it would be created).
    """
    if value is None or not str(value).strip():
        return None
    path = pathlib.Path(value).expanduser()
    existing = _first_existing(path)
    if existing is None:
        return None
    if existing == path:
        if not path.is_dir():
            return f"{flag} {value!r} is a file; expected a folder to write into (a new or existing folder)."
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{flag} {value!r} is a folder this user cannot write into."
        return None
    if not existing.is_dir():
        return f"{flag} {value!r} lies under {str(existing)!r}, which is a file; expected a folder path."
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} {value!r}: cannot create it, {str(existing)!r} is not writable."
    return None


def check_output_file(value, flag):
    """A message when the output file `value` cannot be written: empty, a folder, under a file, or unwritable.

    A file is written through a temporary file beside it, then renamed
    (`hashzoo.utils.io.atomic_open`, which creates missing folders), so what
    must be writable is its folder, or the nearest existing folder above it.
    """
    if value is None:
        return None
    if not str(value).strip():
        return f"{flag} is empty; pass a file path."
    path = pathlib.Path(os.path.abspath(os.path.expanduser(value)))
    if path.is_dir():
        return f"{flag} {value!r} is a folder; expected a file path."
    folder = path.parent
    existing = _first_existing(folder)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{flag} {value!r} lies under {str(existing)!r}, which is a file; expected a file path in a folder."
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "its folder" if existing == folder else "the folder it would be created in"
        return f"{flag} {value!r}: cannot write it, {where} {str(existing)!r} is not writable."
    return None


def check_data_source(value, flag="--data", data_dir=None):
    """A message unless `value` names a data source `hashzoo.data.load` takes (without loading it).

    Names (`digits`, `cifar10-subset`, `tfds:<name>` with `data_dir`) pass;
    anything else must be an existing folder (a CIFAR-10 pickle folder or an
    image folder with one sub-folder per class).
    """
    if value is None:
        return None
    text = str(value)
    if not text.strip():
        return f"{flag} is empty; pass a data source (digits, cifar10-subset, tfds:<name>, or a folder)."
    from hashzoo.data import folders

    if text.startswith("tfds:"):
        if not text[len("tfds:"):]:
            return f"{flag} {text!r} needs a dataset name, e.g. tfds:cifar10."
        if data_dir is None:
            return f"{flag} {text!r} needs --data_dir, the folder the TFDS dataset was prepared in."
    if folders.is_builtin_name(text):  # the names `hashzoo.data.load` resolves before any folder
        return None
    path = pathlib.Path(text).expanduser()
    if path.is_file():
        return f"{flag} {text!r} is a file; expected a folder of images (one sub-folder per class) or a data name."
    if not path.is_dir():
        return (f"{flag} {text!r} is neither a data name (digits, cifar10-subset, tfds:<name>) nor an existing "
                "folder.")
    return None


def check_protocol(value, flag="--protocol"):
    """A message unless `value` (when given) is a registered protocol id."""
    if value is None:
        return None
    from hashzoo.data import protocols

    known = protocols.list_protocols()
    if value not in known:
        return f"{flag} {value!r} is not a protocol; choose one of {known}."
    return None


def check_preset(value, flag="--preset"):
    """A message unless `value` is a registered preset name or a preset archive URL `hashzoo.load` takes.

    An unknown name gets the registry's message (close matches, accepted
    forms); a local path is pointed to `--model`.
    """
    if value is None:
        return None
    from hashzoo.zoo import presets, registry

    text = str(value)
    if not text.strip():
        return f"{flag} is empty; pass a registered preset name or an archive URL."
    if registry.is_registered(text):
        return None
    if presets.is_url(text):
        try:
            presets.check_archive_url(text)
        except ValueError as error:
            return f"{flag}: {error}"
        return None
    if pathlib.Path(text).expanduser().exists():
        return f"{flag} {text!r} is a local path; pass it with --model (a preset folder or a .keras file)."
    try:
        registry.parse_name(text)
    except ValueError as error:
        return f"{flag}: {error}"
    return f"{flag}: {registry.unknown_name_error(text)}"


def check_model_path(value, flag="--model"):
    """A message unless `value` (when given) is a preset folder or a `.keras` file."""
    if value is None:
        return None
    text = str(value)
    if not text.strip():
        return f"{flag} is empty; pass a preset folder or a .keras file."
    path = pathlib.Path(text).expanduser()
    if path.is_dir():
        from hashzoo.zoo import presets

        try:
            presets.check_preset_folder(path)
        except ValueError as error:
            return f"{flag}: {error}"
        return None
    if path.is_file():
        if path.suffix != ".keras":
            return f"{flag} {text!r} is a file but not a .keras file; expected a preset folder or a .keras file."
        return None
    return f"{flag} {text!r} does not exist; expected a preset folder or a .keras file."


__all__ = [
    "EXIT_USAGE", "check_data_source", "check_existing_folder", "check_model_path", "check_no_arguments",
    "check_not_empty", "check_output_file", "check_output_folder", "check_positive_float", "check_positive_int",
    "check_preset", "check_protocol", "parse_flags", "report_errors",
]
