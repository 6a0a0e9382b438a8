"""Training configurations: plain data that `tools/train.py` runs.

A zoo config (`zoo_configs/<method>_<dataset>.py`) defines
`get_config(variant="default") -> TrainConfig`; every config has a `smoke`
variant that trains in about a minute on a CPU (big_vision's `runlocal`).
"""

import dataclasses
import importlib.util
import inspect
import json
import pathlib

from hashzoo.utils.validation import check_non_negative_int, check_positive_int


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the data.

    Args:
        method: registered method name (`hashzoo.methods.list_models()`).
        data: default data source for `hashzoo.data.load` (`--data` overrides).
        protocol: protocol id whose train split is trained on and whose
            query/database split is evaluated.
        bits: code length.
        epochs: training epochs.
        batch_size: global batch size.
        min_steps: int >= 0; when the training split is so small that
            `epochs` passes take fewer optimizer steps, the run's epochs are
            raised to reach this many (0: off). A schedule set in epochs
            (BGAN's and SPAH's slope) stretches with them. Written for
            configs that will meet data smaller than what they were tuned
            on (docs/zoo.md, "Training runs"). `--epochs` on the command
            line turns it off.
        model: keyword arguments of the method's constructor (besides
            `code_bits`, which comes from `bits`, and the label count, which
            comes from the data).
        optimizers: `compile` argument name -> Keras optimizer config
            (`{"class_name": "Adam", "config": {...}}`).
        seed: training seed (initializers, noise, data order).
        description: one line for model cards.
    """

    method: str
    data: str
    protocol: str
    bits: int
    epochs: int
    batch_size: int
    model: dict = dataclasses.field(default_factory=dict)
    optimizers: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    description: str = ""
    min_steps: int = 0

    def __post_init__(self):
        check_positive_int(self.bits, "bits")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_non_negative_int(self.min_steps, "min_steps")

    def replace(self, **changes):
        """A copy with some fields changed (`None` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self):
        """The fields as a dict; `min_steps` only when set, so runs and cards of configs without it are unchanged."""
        record = dataclasses.asdict(self)
        if not self.min_steps:
            del record["min_steps"]
        return record


def _as_json(value):
    """`value` as a config file stores it (tuples become lists), or None when JSON cannot hold it."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def without_default_model_arguments(config_dict):
    """`config_dict` (a `TrainConfig.to_dict()`) with the model arguments at the method's own defaults left out.

    Two spellings of one run: a config that starts to list a setting at its
    default value (a variant made explicit) describes the same model as the
    runs recorded before, which left it out. A setting at any other value, or
    one whose default is None, is kept. Used wherever a recorded config is
    compared with the one asked for: resuming a backup, reading back an
    ablation run (docs/zoo.md, "Training runs").
    """
    from hashzoo import methods  # imported here: reading a config must not import every method

    try:
        method = methods.get_method(config_dict.get("method"))
    except ValueError:  # an unknown method: nothing to compare its arguments with
        return config_dict
    defaults = {name: _as_json(parameter.default)
                for name, parameter in inspect.signature(method.__init__).parameters.items()
                if parameter.default is not inspect.Parameter.empty}
    model = {name: value for name, value in (config_dict.get("model") or {}).items()
             if not (name in defaults and defaults[name] is not None and _as_json(value) == defaults[name])}
    return dict(config_dict, model=model)


def config_dir():
    """The folder of named configs: `hashzoo/zoo_configs/` in an installed package, else the checkout's `zoo_configs/`.

    The wheel carries the repository's `zoo_configs/` as the package data
    folder `hashzoo/zoo_configs/` (see setup.py), so names resolve the same
    way after `pip install` as in a checkout.
    """
    here = pathlib.Path(__file__).resolve()
    installed, checkout = here.parents[1] / "zoo_configs", here.parents[2] / "zoo_configs"
    return installed if installed.is_dir() else checkout


def parse_model_overrides(items, flag="--model_override"):
    """`["key=value", ...]` to a dict of model arguments; values are JSON (`5`, `0.1`, `true`, `"real"`) or plain strings.

    Shared by `tools/train.py` and the ablation benches, so an override means
    the same thing in both; `flag` names the option in the error.
    """
    overrides = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise ValueError(f"{flag} must be key=value, got {item!r}.")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def load_config(spec):
    """Loads `path/to/config.py[:variant]` or `name[:variant]` from `config_dir()`.

    Returns the `TrainConfig` of that file's `get_config(variant)`.
    """
    path_text, _, variant = str(spec).partition(":")
    path = pathlib.Path(path_text)
    if path.suffix != ".py":
        path = config_dir() / f"{path_text}.py"
    if not path.is_file():
        available = sorted(p.stem for p in config_dir().glob("*_*.py"))
        raise ValueError(
            f"no config file for {spec!r} (looked at {path}); give a path to a .py file "
            f"or one of {available}, optionally with ':variant' (e.g. ':smoke')."
        )
    module_spec = importlib.util.spec_from_file_location(f"zoo_config_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    config = module.get_config(variant or "default")
    if not isinstance(config, TrainConfig):
        raise ValueError(f"{path}: get_config() must return a TrainConfig, got {type(config).__name__}.")
    return config
