"""Fine-tunes a preset on your own images and writes a new preset folder.

    python tools/finetune.py --preset coophash-digits-32 --data my_images/ --epochs 2 --out runs/my-32
    python tools/finetune.py --preset coophash-cifar10-64 --data cifar-10-batches-py --bits 32 \\
        --steps_per_epoch 50 --out runs/coophash-mycifar-32
    python tools/finetune.py --preset sadh-digits_mosaic-32 --data digits --protocol digits --resize \\
        --epochs 3 --out runs/sadh-digits-32
    python tools/finetune.py --preset sadh-digits_mosaic-32 --data my_images/ --protocol folder-mosaic \\
        --epochs 3 --out runs/sadh-my-32

`--data` is an image folder with one sub-folder per class (PNG/JPEG), a
CIFAR-10 python-pickle folder, or `tfds:<name>` with `--data_dir`. Every
method that publishes presets fine-tunes. The trunk keeps the preset's
weights; `--bits` puts a new hash head on it; a new class count replaces the
class head. What the method computes from its training data is built again on
the new data: BGAN's and SPAH's similarity matrix, SADH's label network and
dictionaries (for the new label set: another class count, single-label data
for a multi-label preset); see docs/zoo.md, "Fine-tuning". The preset's preprocessing contract is
kept: images of another size or channel count are refused unless `--resize`
/ `--convert_channels` is passed (recorded in the metadata). The new data is
split by `--protocol` (default `folder`: 5 queries per class, the rest is the
database and the train set, 10% of which is held out for validation, on
which the best epoch is chosen). `--protocol folder-mosaic` makes 2x2
multi-label mosaics (1 to 3 classes each) of any folder with at least 3
classes, split the same way first, for fine-tuning a multi-label preset
(SADH) on your own label set. A killed run resumes from `<out>.backup/`
when started again with the same command; a command with other settings
(preset, bits, learning rate, epochs, seed, data, ...) is refused with an
`error:` line naming the folder and what differs (delete it to start over). The output opens with
`hashzoo.load(<out>)`; its metadata names the parent and its sha256.

Exits with 0 (written), 2 (an error; nothing written) or 3 (a non-finite
loss stopped training: the preset holds the best finished epoch, and
`stopped` in its metadata says where), like `tools/train.py`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from hashzoo.utils.cli import define_threads_flag, parse_flags, set_threads  # noqa: E402  (a bad flag: exit 2)

flags.DEFINE_string("preset", None, "preset name, preset folder or archive URL to start from.")
flags.DEFINE_string("data", None, "image folder (one sub-folder per class), CIFAR-10 pickle folder or tfds:<name>.")
flags.DEFINE_string("data_dir", None, "TFDS data folder, for --data tfds:<name>.")
flags.DEFINE_integer("bits", None, "new code length (default: the preset's).")
flags.DEFINE_integer("epochs", 1, "epochs.")
flags.DEFINE_integer("steps_per_epoch", None, "steps per epoch (default: one pass over the train split).")
flags.DEFINE_integer("batch_size", 64, "batch size.")
flags.DEFINE_float("learning_rate", None, "learning rate of every optimizer (default: the preset's recipe).")
flags.DEFINE_integer("seed", 0, "seed (weights of new layers, data order, noise).")
flags.DEFINE_string("protocol", "folder", "protocol that splits the new data into query/train/database "
                    "(folder: any single-label data; folder-mosaic: 2x2 multi-label mosaics of it).")
flags.DEFINE_bool("resize", False, "allow images of another size than the preset's (resized to it).")
flags.DEFINE_bool("convert_channels", False, "allow grey images for an RGB preset or the reverse.")
flags.DEFINE_string("out", None, "preset folder to write.")
flags.DEFINE_bool("overwrite", False, "replace an existing --out folder (a backup folder of a run with other "
                  "settings is still refused, never deleted).")
flags.DEFINE_integer("verbose", 1, "Keras progress bar: 0 silent, 1 bar, 2 one line per epoch.")
define_threads_flag()
flags.mark_flags_as_required(["preset", "data", "out"])


def main(argv):
    del argv
    from hashzoo import finetune
    from hashzoo.training import NonFiniteLossError
    from hashzoo.training.core import EXIT_ERROR, report

    F = flags.FLAGS
    set_threads(F.threads)
    try:
        model, result, before, _ = finetune.finetune(
            F.preset, F.data, F.out, bits=F.bits, epochs=F.epochs, steps_per_epoch=F.steps_per_epoch,
            batch_size=F.batch_size, seed=F.seed, protocol=F.protocol, learning_rate=F.learning_rate,
            data_dir=F.data_dir, resize=F.resize, convert_channels=F.convert_channels, verbose=F.verbose,
            overwrite=F.overwrite, command="python " + " ".join(sys.argv),
        )
    except (ValueError, OSError, NonFiniteLossError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    name = next(iter(result.metrics))
    print(result.format_table())
    print(f"{name} on the new data: parent {before.metrics[name]:.4f} ({before.bits} bits) -> "
          f"fine-tuned {result.metrics[name]:.4f} ({result.bits} bits)")
    print(f"wrote {F.out}  (load it with hashzoo.load({F.out!r}))")
    return report(model.card)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags)
