"""Trains a hashzoo method from a zoo config and writes a preset folder.

    python tools/train.py --config coophash_digits --out runs/coophash-digits-32
    python tools/train.py --config zoo_configs/coophash_cifar10.py:smoke --bits 16 --epochs 1 --out /tmp/x

`--data` takes `digits`, `cifar10-subset`, a CIFAR-10 pickle folder,
`tfds:<name>` or an image folder with one sub-folder per class. The output
folder opens with `hashzoo.load(path)`. A killed run resumes from
`<out>.backup/` when started again with the same command.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("config", None, "zoo config: name in zoo_configs/ or path to a .py, optionally ':variant'.")
flags.DEFINE_string("data", None, "data source (overrides the config's).")
flags.DEFINE_string("protocol", None, "protocol id (overrides the config's).")
flags.DEFINE_integer("bits", None, "code length (overrides the config's).")
flags.DEFINE_integer("epochs", None, "epochs (overrides the config's).")
flags.DEFINE_integer("batch_size", None, "global batch size (overrides the config's).")
flags.DEFINE_integer("seed", None, "training seed (overrides the config's).")
flags.DEFINE_multi_string("model_override", [], "model constructor argument as key=value (JSON value), e.g. class_weight=5.")
flags.DEFINE_enum("distribute", "none", ["none", "mirrored", "multiworker"], "tf.distribute strategy.")
flags.DEFINE_string("out", None, "preset folder to write.")
flags.DEFINE_bool("overwrite", False, "replace an existing --out folder.")
flags.DEFINE_integer("verbose", 1, "Keras progress bar: 0 silent, 1 bar, 2 one line per epoch.")
flags.mark_flags_as_required(["config", "out"])


def parse_overrides(items):
    """`["key=value", ...]` to a dict; values are JSON (`5`, `0.1`, `true`, `"real"`) or plain strings."""
    import json

    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise app.UsageError(f"--model_override must be key=value, got {item!r}.")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def main(argv):
    del argv
    from hashzoo import training

    F = flags.FLAGS
    config = training.load_config(F.config).replace(
        protocol=F.protocol, bits=F.bits, epochs=F.epochs, batch_size=F.batch_size, seed=F.seed
    )
    if F.model_override:
        config = config.replace(model=dict(config.model, **parse_overrides(F.model_override)))
    command = "python " + " ".join(sys.argv)
    try:
        model, result = training.train(
            config, F.out, data=F.data, strategy=F.distribute, verbose=F.verbose, overwrite=F.overwrite,
            command=command,
        )
    except (ValueError, training.NonFiniteLossError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(result.format_table())
    print(f"wrote {F.out}  (load it with hashzoo.load({F.out!r}))")
    return 0


if __name__ == "__main__":
    app.run(main)
