"""Publishes presets: the command line of `hashzoo.zoo.publish` (docs/zoo.md).

    python tools/make_preset.py --publish runs/coophash-cifar10-64 --name coophash-cifar10-64
    python tools/make_preset.py --publish runs/bgan-cifar10-16 --name bgan-cifar10-16 --weights_dtype float16
    python tools/make_preset.py --refresh          # cards, registry entries and preset tables from pretrained/
    python tools/make_preset.py --check            # exit 1 when any of them is out of date
    python tools/make_preset.py --archives dist/presets   # the release assets, checked against the registry
    python tools/make_preset.py --remeasure coophash-cifar10-32   # metrics again from the stored weights
    python tools/make_preset.py --publish runs/sadh/digits_mosaic-32-s0 --name sadh-digits_mosaic-32 \\
        --seed_runs runs/sadh/digits_mosaic-32-s1,runs/sadh/digits_mosaic-32-s2   # with the other seeds' numbers
    python tools/make_preset.py --floors all       # computed floors of published presets (or one name)
    python tools/make_preset.py --add_seeds spah-digits-32 --seed_runs runs/spah/digits-32-s1,runs/spah/digits-32-s2

`--publish` writes `pretrained/<name>/`, its archive `dist/presets/<name>.tar.gz`
and sha256, the method's registry entry and the preset tables of
`docs/presets.md` and `README.md`, in one step; it also computes the floors
(LSH and PCA-ITQ on the same protocol, and PCA-ITQ on the graph's features for
methods that build one) and, with `--seed_runs`, records the
other seeds' numbers, both in `metadata.json`. `--floors` and `--add_seeds`
record them for presets already published. `--refresh` rewrites the cards from
each preset's metadata.json and, in the same run, the registry's
`archive_sha256` / `archive_bytes` of every archive whose card changed
(`--floors` and `--add_seeds` end with that refresh).

Every flag is checked before anything is read or written (`flag_errors`): a
bad one prints an `error:` line and exits with status 2; `--check` exits 1
when something is out of date.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

from hashzoo.utils import cli  # noqa: E402


def define_flags(flag_values=flags.FLAGS):
    """Defines the flags on `flag_values` (a test passes its own `flags.FlagValues()`).

    Called only when run as a script, so tests can import this file.
    """
    on = {"flag_values": flag_values}
    flags.DEFINE_string("publish", None, "the preset folder of a training run to publish.", **on)
    flags.DEFINE_string("name", None, "with --publish: the preset name, <method>-<dataset>-<bits>[.<tag>].", **on)
    flags.DEFINE_enum("weights_dtype", "float32", ["float32", "float16"],
                      "with --publish: float16 halves the weights file; the metrics are then re-measured.", **on)
    flags.DEFINE_string("description", None, "with --publish: the one-line description (default: the config's).",
                        **on)
    flags.DEFINE_bool("overwrite", False, "with --publish: replace an existing pretrained/<name>.", **on)
    flags.DEFINE_bool("refresh", False, "regenerate model cards, registry entries and preset tables.", **on)
    flags.DEFINE_bool("check", False, "exit 1 when a card, registry entry or preset table is out of date.", **on)
    flags.DEFINE_string("archives", None, "write every built-in preset's archive into this folder.", **on)
    flags.DEFINE_string("remeasure", None, "measure this published preset again from its stored weights.", **on)
    flags.DEFINE_string("floors", None, "compute the floors (LSH, PCA-ITQ, PCA-ITQ on graph features) of this "
                        "published preset, or of every one with 'all', into metadata.json; then refresh.", **on)
    flags.DEFINE_string("add_seeds", None, "record --seed_runs with this published preset; then refresh.", **on)
    flags.DEFINE_list("seed_runs", None, "with --publish or --add_seeds: comma-separated run folders of the same "
                      "config with other seeds.", **on)


def flag_errors(F, argv):
    """The problems with the flags, as messages (empty when they are all valid)."""
    from hashzoo.zoo import registry

    errors = [cli.check_no_arguments(argv)]
    actions = [flag for flag, value in (("--publish", F.publish), ("--refresh", F.refresh), ("--check", F.check),
                                         ("--archives", F.archives), ("--remeasure", F.remeasure),
                                         ("--floors", F.floors), ("--add_seeds", F.add_seeds))
               if value not in (None, False)]
    if not actions:
        errors.append("pass --publish (with --name), --refresh, --check, --archives, --remeasure, --floors or "
                      "--add_seeds (see --help).")
    if F.refresh and F.check:
        errors.append("pass one of --refresh (rewrite what is stale) and --check (only report it).")
    if (F.publish is None) != (F.name is None):
        errors.append("--publish and --name go together: --publish <run folder> --name <preset name>.")
    for flag, value in (("--description", F.description), ("--overwrite", F.overwrite or None),
                        ("--weights_dtype", F.weights_dtype if F["weights_dtype"].present else None)):
        if value is not None and F.publish is None:
            errors.append(f"{flag} goes with --publish only.")
    errors.append(cli.check_existing_folder(F.publish, "--publish", "the preset folder of a training run "
                                            "(tools/train.py --out)"))
    if F.publish is not None and not cli.check_existing_folder(F.publish, "--publish"):
        from hashzoo.zoo import presets

        try:
            presets.check_preset_folder(F.publish)
        except ValueError as error:
            errors.append(f"--publish: {error}")
    if F.name is not None:
        try:
            registry.parse_name(F.name)
        except ValueError as error:
            errors.append(f"--name: {error}")
    if F.description is not None and (not F.description.strip() or "\n" in F.description):
        errors.append(f"--description must be one non-empty line, got {F.description!r}.")
    errors.append(cli.check_not_empty(F.archives, "--archives", "the folder to write the archives into"))
    errors.append(cli.check_output_folder(F.archives, "--archives"))
    if F.remeasure is not None:
        if not F.remeasure.strip():
            errors.append("--remeasure is empty; pass the name of a published preset.")
        elif not registry.is_registered(F.remeasure):
            errors.append(f"--remeasure: {registry.unknown_name_error(F.remeasure)}")
        else:
            folder = registry.get_preset(F.remeasure).builtin_path()
            if folder is None or not folder.is_dir():
                errors.append(f"--remeasure {F.remeasure!r}: its folder {folder} is not in this checkout; only "
                              "presets under pretrained/ can be measured again.")
    errors += _preset_flag_errors(F.floors, "--floors", allow_all=True)
    errors += _preset_flag_errors(F.add_seeds, "--add_seeds")
    if F.seed_runs is not None and F.publish is None and F.add_seeds is None:
        errors.append("--seed_runs goes with --publish or --add_seeds.")
    if F.add_seeds is not None and not F.seed_runs:
        errors.append("--add_seeds needs --seed_runs <run folder>[,<run folder>...]: the other seeds' runs.")
    for folder in F.seed_runs or []:
        missing = cli.check_existing_folder(folder, "--seed_runs", "a training run's folder (tools/train.py --out)")
        if missing:
            errors.append(missing)
        elif not os.path.isfile(os.path.join(folder, "metadata.json")):
            errors.append(f"--seed_runs {folder!r} has no metadata.json: not a finished training run.")
    return [message for message in errors if message]


def _preset_flag_errors(value, flag, allow_all=False):
    """The problems with a flag naming one published preset (or 'all')."""
    from hashzoo.zoo import registry

    if value is None:
        return []
    if not value.strip():
        return [f"{flag} is empty; pass the name of a published preset" + (" or 'all'." if allow_all else ".")]
    if allow_all and value == "all":
        return []
    if not registry.is_registered(value):
        return [f"{flag}: {registry.unknown_name_error(value)}"]
    folder = registry.get_preset(value).builtin_path()
    if folder is None or not folder.is_dir():
        return [f"{flag} {value!r}: its folder {folder} is not in this checkout; only presets under pretrained/ "
                "can be changed."]
    return []


def main(argv):
    F = flags.FLAGS
    errors = flag_errors(F, argv)
    if errors:
        return cli.report_errors(errors)
    from hashzoo.zoo import publish

    try:
        if F.publish:
            preset = publish.publish(F.publish, F.name, weights_dtype=F.weights_dtype, description=F.description,
                                     command="python " + " ".join(sys.argv), overwrite=F.overwrite,
                                     seed_runs=F.seed_runs or ())
            print(f"published {F.publish} as pretrained/{preset.name} (weights sha256 {preset.weights_sha256}); "
                  f"upload dist/presets/{preset.name}.tar.gz (sha256 {preset.archive_sha256}) to {preset.url}")
        if F.remeasure:
            changed = publish.remeasure(F.remeasure)
            for metric, (before, after) in sorted(changed.items()):
                print(f"{F.remeasure} {metric}: {before} -> {after}")
            print(f"{F.remeasure}: " + ("metadata, card, entry and tables updated" if changed else "unchanged"))
        if F.floors:
            names = publish.published_names() if F.floors == "all" else [F.floors]
            publish.add_floors(names, progress=lambda name, record: print(
                f"{name} floors ({record['metric']}): " + ", ".join(
                    f"{row['baseline']} {row['value']:.4f}" for row in record["baselines"])))
        if F.add_seeds:
            record = publish.add_seeds(F.add_seeds, F.seed_runs, command="python " + " ".join(sys.argv))
            print(f"{F.add_seeds} seeds ({record['metric']}): " + ", ".join(
                f"{run['seed']} {run['value']:.4f}" for run in record["runs"]))
        if F.refresh or F.check:
            stale = publish.refresh(check=F.check)
            if F.check and stale:
                print("out of date: " + ", ".join(map(str, stale)) + " (run python tools/make_preset.py --refresh)",
                      file=sys.stderr)
                return 1
            print("up to date" if not stale else "rewrote " + ", ".join(map(str, stale)))
        if F.archives:
            for path in publish.write_archives(F.archives):
                print(f"wrote {path}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    define_flags()
    app.run(main, flags_parser=cli.parse_flags)
