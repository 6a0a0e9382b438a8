"""Trains a hashzoo method from a zoo config and writes a preset folder.

    python tools/train.py --config coophash_digits --out runs/coophash-digits-32
    python tools/train.py --config zoo_configs/coophash_cifar10.py:smoke --bits 16 --epochs 1 --out /tmp/x

`--data` takes `digits`, `cifar10-subset`, a CIFAR-10 pickle folder,
`tfds:<name>` or an image folder with one sub-folder per class; an image
folder is split by the `folder` protocol unless `--protocol` names another.
The output folder opens with `hashzoo.load(path)`.

Every epoch is scored on the protocol's validation split and the best epoch
is published (its number and the validation curve are in the metadata's
`checkpoint`). A killed run resumes from `<out>.backup/` when started again
with the same command. The backup folder records the run's fingerprint
(config, data, bits, epochs, flags): a command with other settings is refused
with an `error:` line naming the folder and what differs; delete the folder to
start over, or rerun the original command to resume. `--overwrite` replaces
`--out` only; it never resumes or deletes another run's backup folder.

Exit status 0 means written. 2 is an error and nothing was written (a bad
flag, config or data, or a non-finite loss before any epoch finished). 3
means a non-finite loss stopped training and the preset holds the best
finished epoch; its metadata's `stopped` says where. 4 (`--distribute
multiworker`) means a peer worker stopped: the `error:` line names it,
nothing was written, `<out>.backup/` holds the last finished epoch, and
starting every worker again with the same command resumes from it
(docs/distributed.md).
"""

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from hashzoo.utils.cli import define_threads_flag, parse_flags, set_threads  # noqa: E402  (a bad flag: exit 2)

flags.DEFINE_string("config", None, "zoo config: name in zoo_configs/ or path to a .py, optionally ':variant'.")
flags.DEFINE_string("data", None, "data source (overrides the config's).")
flags.DEFINE_string("protocol", None, "protocol id (overrides the config's).")
flags.DEFINE_integer("bits", None, "code length (overrides the config's).")
flags.DEFINE_integer("epochs", None, "epochs (overrides the config's epochs, and turns its min_steps off).")
flags.DEFINE_integer("batch_size", None, "global batch size (overrides the config's).")
flags.DEFINE_integer("seed", None, "training seed (overrides the config's).")
flags.DEFINE_multi_string("model_override", [], "model constructor argument as key=value (JSON value), e.g. class_weight=5.")
flags.DEFINE_string("image_size", None, "train at this input size, HxW or one side (default: the data's, or the "
                    "nearest size the method's architecture takes).")
flags.DEFINE_enum("distribute", "none", ["none", "mirrored", "multiworker"], "tf.distribute strategy.")
flags.DEFINE_string("out", None, "preset folder to write.")
flags.DEFINE_bool("overwrite", False, "replace an existing --out folder (a backup folder of a run with other "
                  "settings is still refused, never deleted).")
define_threads_flag()
flags.DEFINE_integer("verbose", 1, "Keras progress bar: 0 silent, 1 bar, 2 one line per epoch.")
flags.mark_flags_as_required(["config", "out"])


def parse_image_size(text):
    """`"32"` or `"28x32"` to `[height, width]`."""
    parts = str(text).lower().split("x")
    try:
        sides = [int(part) for part in parts]
    except ValueError:
        sides = []
    if len(sides) == 1:
        sides = sides * 2
    if len(sides) != 2 or min(sides) < 1:
        raise ValueError(f"--image_size must be HxW or one side in pixels (e.g. 32 or 28x32), got {text!r}.")
    return sides


def main(argv):
    del argv
    from hashzoo import training
    from hashzoo.distribute import WorkerLostError, is_chief
    from hashzoo.training.config import parse_model_overrides
    from hashzoo.training.core import EXIT_ERROR, EXIT_WORKER_LOST, report

    F = flags.FLAGS
    command = "python " + " ".join(sys.argv)
    set_threads(F.threads)
    try:
        config = training.load_config(F.config).replace(
            protocol=training.protocol_for(F.data, F.protocol), bits=F.bits, epochs=F.epochs,
            batch_size=F.batch_size, seed=F.seed,
        )
        if F.epochs is not None:  # exactly the epochs asked for
            config = dataclasses.replace(config, min_steps=0)
        model_arguments = dict(config.model, **parse_model_overrides(F.model_override))
        if F.image_size:
            preprocessing = dict(model_arguments.get("preprocessing") or {})
            preprocessing["image_size"] = parse_image_size(F.image_size)
            model_arguments["preprocessing"] = preprocessing
        config = config.replace(model=model_arguments)
        model, result = training.train(
            config, F.out, data=F.data, strategy=F.distribute, verbose=F.verbose, overwrite=F.overwrite,
            command=command,
        )
    except WorkerLostError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_WORKER_LOST
    except (ValueError, OSError, training.NonFiniteLossError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    print(result.format_table())
    if is_chief():
        print(f"wrote {F.out}  (load it with hashzoo.load({F.out!r}))")
    else:
        print(f"done; worker 0 wrote {F.out}")
    return report(model.card)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
