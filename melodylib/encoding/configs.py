"""The four Melody RNN configurations (magenta-behaviour.md: "Configs"): encoder, pitch range, key, and hyperparameters.

`get_config("attention_rnn", "batch_size=64,rnn_layer_sizes=[64,64]")` gives a fresh config with
Magenta's `--hparams` syntax applied; `config_from_encoder_name` mirrors `--melody_encoder_decoder`;
`to_dict` / `config_from_dict` let a bundle store and rebuild a config.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from melodylib.encoding.config_names import CONFIG_NAMES
from melodylib.encoding.encoders import (
    ENCODER_KINDS,
    EventSequenceEncoder,
    KeyEncoder,
    LookbackEncoder,
    MelodyOneHotEncoding,
    OneHotEncoder,
    encoder_from_dict,
)
from melodylib.errors import MelodylibError

DEFAULT_MIN_NOTE = 48  # inclusive
DEFAULT_MAX_NOTE = 84  # exclusive: 36 pitches, C3..B5
DEFAULT_TRANSPOSE_TO_KEY = 0  # C major
DEFAULT_STEPS_PER_QUARTER = 4

# Quotes that word processors and web pages put in place of ASCII quotes. Magenta did not
# recognise them in flags and failed confusingly (its generator hung on them); we reject them.
TYPOGRAPHIC_QUOTES = "\u201c\u201d\u2018\u2019\u201e\u201f\u00ab\u00bb\u2032\u2033"
HPARAMS_EXAMPLE = "batch_size=64,rnn_layer_sizes=[64,64]"


class _ClassOrInstanceMethod:
    """Binds to the instance when called on one, else to the class (so `parse` works both ways)."""

    def __init__(self, function: Callable) -> None:
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, instance: Any, owner: type) -> Callable:
        return types.MethodType(self.function, owner if instance is None else instance)


@dataclass
class HParams:
    """Training and model hyperparameters, with the base defaults of Magenta's EventSequenceRnnConfig."""

    batch_size: int = 64
    rnn_layer_sizes: list[int] = field(default_factory=lambda: [128, 128])
    dropout_keep_prob: float = 1.0
    attn_length: int = 0
    clip_norm: float = 3.0
    learning_rate: float = 0.001
    residual_connections: bool = False
    use_cudnn: bool = False  # Magenta only logs a warning and uses a normal LSTM; so do we
    # first_layer or whole_stack (magenta-behaviour.md: "The 2016 attention layout")
    attention_layout: str = "first_layer"

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The hparam names, in order."""
        return tuple(item.name for item in dataclasses.fields(cls))

    def validate(self) -> None:
        """Coerce each value to its type and check its range; MelodylibError naming the hparam if wrong."""
        for name in self.names():
            setattr(self, name, _coerce(name, getattr(self, name)))
        _check_ranges(self)

    @_ClassOrInstanceMethod
    def parse(self_or_class: Any, text: str | None) -> HParams:
        """New HParams from Magenta's `--hparams` text over this instance (or the defaults, on the class)."""
        base = self_or_class if isinstance(self_or_class, HParams) else self_or_class()
        return parse_hparams(text, base)

    def with_overrides(self, overrides: str | dict | None) -> HParams:
        """A copy with `name=value` text or a {name: value} dict applied."""
        if overrides is None or isinstance(overrides, str):
            return parse_hparams(overrides, self)
        if isinstance(overrides, dict):
            return _override(self, overrides, source="hparams")
        raise MelodylibError(
            f"hparams overrides must be text or a dict, got {type(overrides).__name__}"
        )

    def to_dict(self) -> dict:
        """JSON-ready {name: value}."""
        return {
            name: (list(value) if isinstance(value, list) else value)
            for name, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict, base: HParams | None = None) -> HParams:
        """HParams from a {name: value} dict over `base` (default: the base defaults); unknown names fail."""
        return _override(base if base is not None else cls(), values, source="hparams")

    def to_string(self) -> str:
        """Magenta `--hparams` syntax, e.g. `batch_size=128,rnn_layer_sizes=[128,128],...`."""
        return ",".join(f"{name}={_format_value(getattr(self, name))}" for name in self.names())

    def copy(self) -> HParams:
        """An independent copy (the layer list is not shared)."""
        return dataclasses.replace(self, rnn_layer_sizes=list(self.rnn_layer_sizes))


_INT_NAMES = ("batch_size", "attn_length")
_FLOAT_NAMES = ("dropout_keep_prob", "clip_norm", "learning_rate")
_BOOL_NAMES = ("residual_connections", "use_cudnn")
_LIST_NAMES = ("rnn_layer_sizes",)
_CHOICE_NAMES = {"attention_layout": ("first_layer", "whole_stack")}
_EXPECTED = {
    **{name: "one of " + ", ".join(choices) for name, choices in _CHOICE_NAMES.items()},
    **{name: "a whole number" for name in _INT_NAMES},
    **{name: "a number" for name in _FLOAT_NAMES},
    **{name: "true or false" for name in _BOOL_NAMES},
    **{name: "a list of whole numbers such as [64,64]" for name in _LIST_NAMES},
}


def _bad_value(name: str, value: Any) -> MelodylibError:
    return MelodylibError(
        f"hparam {name}={value!r} is invalid: expected {_EXPECTED[name]} "
        f'(e.g. --hparams="{HPARAMS_EXAMPLE}")'
    )


def _is_whole_number(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _coerce(name: str, value: Any) -> Any:
    """The value as the hparam's type; text such as "64" or "[64,64]" is parsed."""
    if isinstance(value, str):
        return _parse_value(name, value)
    if name in _CHOICE_NAMES:
        raise _bad_value(name, value)
    if name in _INT_NAMES:
        if not _is_whole_number(value):
            raise _bad_value(name, value)
        return int(value)
    if name in _FLOAT_NAMES:
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not math.isfinite(value)
        ):
            raise _bad_value(name, value)
        return float(value)
    if name in _BOOL_NAMES:
        if not isinstance(value, bool):
            raise _bad_value(name, value)
        return value
    if not isinstance(value, (list, tuple)) or not all(_is_whole_number(size) for size in value):
        raise _bad_value(name, value)
    return [int(size) for size in value]


def _parse_value(name: str, text: str) -> Any:
    """Parse one value written as text."""
    text = _strip_quotes(text.strip())
    if name in _CHOICE_NAMES:
        if text not in _CHOICE_NAMES[name]:
            raise _bad_value(name, text)
        return text
    if name in _INT_NAMES:
        try:
            return int(text)
        except ValueError as error:
            raise _bad_value(name, text) from error
    if name in _FLOAT_NAMES:
        try:
            number = float(text)
        except ValueError as error:
            raise _bad_value(name, text) from error
        if not math.isfinite(number):
            raise _bad_value(name, text)
        return number
    if name in _BOOL_NAMES:
        lowered = text.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise _bad_value(name, text)
    inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    parts = [part.strip() for part in inner.split(",")]
    if parts == [""]:
        return []
    try:
        return [int(part) for part in parts]
    except ValueError as error:
        raise _bad_value(name, text) from error


def _check_ranges(hparams: HParams) -> None:
    def fail(name: str, rule: str) -> MelodylibError:
        return MelodylibError(
            f"hparam {name}={_format_value(getattr(hparams, name))} is out of range: {rule}"
        )

    if hparams.batch_size < 1:
        raise fail("batch_size", "it must be >= 1")
    if not hparams.rnn_layer_sizes:
        raise fail("rnn_layer_sizes", "give at least one layer, e.g. rnn_layer_sizes=[128,128]")
    if any(size < 1 for size in hparams.rnn_layer_sizes):
        raise fail("rnn_layer_sizes", "every layer size must be >= 1")
    if not 0.0 < hparams.dropout_keep_prob <= 1.0:
        raise fail(
            "dropout_keep_prob",
            "it is the probability of keeping a unit: 0 < dropout_keep_prob <= 1",
        )
    if hparams.attn_length < 0:
        raise fail("attn_length", "it must be >= 0 (0 means no attention)")
    if hparams.clip_norm <= 0:
        raise fail("clip_norm", "it must be > 0")
    if hparams.learning_rate <= 0:
        raise fail("learning_rate", "it must be > 0")


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(str(size) for size in value) + "]"
    return repr(value)


def _strip_quotes(text: str) -> str:
    """Remove one pair of matching ASCII quotes around the text (left by shells or copy-paste)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].strip()
    return text


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside brackets: `a=1,b=[2,3]` gives `a=1` and `b=[2,3]`."""
    parts, depth, current = [], 0, []
    for character in text:
        if character == "[":
            depth += 1
        elif character == "]":
            depth -= 1
            if depth < 0:
                raise MelodylibError(f"--hparams {text!r} has a ']' without a matching '['")
        if character == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    if depth != 0:
        raise MelodylibError(f"--hparams {text!r} has a '[' without a matching ']'")
    parts.append("".join(current))
    return parts


def _unknown_name(name: str, source: str) -> MelodylibError:
    valid = HParams.names()
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return MelodylibError(
        f"unknown hparam {name!r} in {source}.{hint} Valid names: {', '.join(valid)}"
    )


def _override(base: HParams, values: dict, source: str) -> HParams:
    """A copy of `base` with the values applied and the result validated."""
    result = base.copy()
    for name, value in values.items():
        if name not in HParams.names():
            raise _unknown_name(str(name), source)
        setattr(result, name, _coerce(name, value))
    _check_ranges(result)
    return result


def parse_hparams(text: str | None, base: HParams) -> HParams:
    """Apply Magenta `--hparams` text (`batch_size=64,rnn_layer_sizes=[64,64]`) to a copy of `base`.

    Spaces and one pair of surrounding quotes are tolerated; typographic quotes, unknown names, bad
    values and repeated names are MelodylibErrors that say how to fix them.
    """
    if text is None:
        return base.copy()
    if not isinstance(text, str):
        raise MelodylibError(
            f"--hparams must be text such as {HPARAMS_EXAMPLE!r}, got {type(text).__name__}"
        )
    for character in text:
        if character in TYPOGRAPHIC_QUOTES:
            raise MelodylibError(
                f"--hparams {text!r} contains the typographic quote {character!r} (word processors and web "
                f'pages replace " with these). Type plain ASCII quotes or none, e.g. '
                f'--hparams="{HPARAMS_EXAMPLE}"'
            )
    stripped = _strip_quotes(text.strip())
    if not stripped:
        return base.copy()
    values: dict[str, str] = {}
    for item in _split_top_level(stripped):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise MelodylibError(
                f"--hparams item {item!r} is not name=value; write lists in brackets, e.g. "
                f'--hparams="{HPARAMS_EXAMPLE}"'
            )
        name, value = (part.strip() for part in item.split("=", 1))
        if name not in HParams.names():
            raise _unknown_name(name, f"--hparams {text!r}")
        if name in values:
            raise MelodylibError(
                f"hparam {name} is given twice in --hparams {text!r}; give it once"
            )
        values[name] = value
    return _override(base, values, source=f"--hparams {text!r}")


# ---------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------


@dataclass
class MelodyRnnConfig:
    """A generator id and description, the encoder, the pitch range [min_note, max_note), the key to
    transpose melodies to (None: keep), and the hparams (magenta-behaviour.md: "Configs")."""

    name: str
    description: str
    encoder: EventSequenceEncoder
    hparams: HParams
    min_note: int = DEFAULT_MIN_NOTE
    max_note: int = DEFAULT_MAX_NOTE
    transpose_to_key: int | None = DEFAULT_TRANSPOSE_TO_KEY
    steps_per_quarter: int = DEFAULT_STEPS_PER_QUARTER

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """magenta-behaviour.md: "Config validation": 0 <= min_note, max_note <= 128, at least 12 pitches, key None or 0..11; ranges agree."""
        if self.min_note < 0:
            raise MelodylibError(f"config {self.name}: min_note must be >= 0, got {self.min_note}")
        if self.max_note > 128:
            raise MelodylibError(
                f"config {self.name}: max_note must be <= 128 (exclusive), got {self.max_note}"
            )
        if self.max_note - self.min_note < 12:
            raise MelodylibError(
                f"config {self.name}: the range {self.min_note}..{self.max_note} (max exclusive) must span at "
                f"least 12 pitches (an octave) so melodies can be transposed into it"
            )
        if self.transpose_to_key is not None and (
            isinstance(self.transpose_to_key, bool) or self.transpose_to_key not in range(12)
        ):
            raise MelodylibError(
                f"config {self.name}: transpose_to_key must be None (no transposition) or a key 0..11 "
                f"(0 = C), got {self.transpose_to_key!r}"
            )
        if self.steps_per_quarter < 1:
            raise MelodylibError(
                f"config {self.name}: steps_per_quarter must be >= 1, got {self.steps_per_quarter}"
            )
        if not isinstance(self.hparams, HParams):
            raise MelodylibError(
                f"config {self.name}: hparams must be an HParams, got {type(self.hparams).__name__}"
            )
        if not isinstance(self.encoder, EventSequenceEncoder):
            raise MelodylibError(
                f"config {self.name}: encoder must be an EventSequenceEncoder, got {type(self.encoder).__name__}"
            )
        encoder_range = (
            getattr(self.encoder, "min_note", None),
            getattr(self.encoder, "max_note", None),
        )
        if None not in encoder_range and encoder_range != (self.min_note, self.max_note):
            raise MelodylibError(
                f"config {self.name}: the encoder covers {encoder_range[0]}..{encoder_range[1]} but the config "
                f"squashes melodies into {self.min_note}..{self.max_note}; use the same range for both"
            )

    @property
    def no_event_label(self) -> int:
        """The label of NO_EVENT (0 for one-hot/lookback, 36 for key), used by the no-event metrics."""
        return self.encoder.default_event_label

    @property
    def input_size(self) -> int:
        """Length of one input vector."""
        return self.encoder.input_size

    @property
    def num_classes(self) -> int:
        """Number of output classes."""
        return self.encoder.num_classes

    def to_dict(self) -> dict:
        """JSON-ready description (name, encoder kind and settings, range, key, hparams)."""
        return {
            "name": self.name,
            "description": self.description,
            "encoder": self.encoder.to_dict(),
            "min_note": self.min_note,
            "max_note": self.max_note,
            "transpose_to_key": self.transpose_to_key,
            "steps_per_quarter": self.steps_per_quarter,
            "hparams": self.hparams.to_dict(),
        }


def config_to_dict(config: MelodyRnnConfig) -> dict:
    """Same as `config.to_dict()`."""
    return config.to_dict()


def config_from_dict(values: dict) -> MelodyRnnConfig:
    """Rebuild a config stored with `MelodyRnnConfig.to_dict()`."""
    required = (
        "name",
        "description",
        "encoder",
        "min_note",
        "max_note",
        "transpose_to_key",
        "hparams",
    )
    missing = [key for key in required if key not in values]
    if missing:
        raise MelodylibError(
            f"stored config is missing {', '.join(missing)}; it was not written by to_dict()"
        )
    return MelodyRnnConfig(
        name=values["name"],
        description=values["description"],
        encoder=encoder_from_dict(values["encoder"]),
        hparams=HParams.from_dict(values["hparams"]),
        min_note=values["min_note"],
        max_note=values["max_note"],
        transpose_to_key=values["transpose_to_key"],
        steps_per_quarter=values.get("steps_per_quarter", DEFAULT_STEPS_PER_QUARTER),
    )


def _config_hparams(**values: Any) -> HParams:
    """Each config's own values over the base defaults (magenta-behaviour.md: "Hyperparameters")."""
    return HParams(**values)


_ONE_HOT_HPARAMS = dict(
    batch_size=128,
    rnn_layer_sizes=[128, 128],
    dropout_keep_prob=0.5,
    clip_norm=5.0,
    learning_rate=0.001,
)


def _default_config(name: str) -> MelodyRnnConfig:
    """A freshly built default config (nothing shared between calls)."""
    if name == "basic_rnn":
        return MelodyRnnConfig(
            "basic_rnn",
            "Melody RNN with one-hot encoding.",
            OneHotEncoder(MelodyOneHotEncoding(DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE)),
            _config_hparams(**_ONE_HOT_HPARAMS),
        )
    if name == "mono_rnn":
        return MelodyRnnConfig(
            "mono_rnn",
            "Monophonic RNN with one-hot encoding.",
            OneHotEncoder(MelodyOneHotEncoding(0, 128)),
            _config_hparams(**_ONE_HOT_HPARAMS),
            min_note=0,
            max_note=128,
            transpose_to_key=None,
        )
    if name == "lookback_rnn":
        return MelodyRnnConfig(
            "lookback_rnn",
            "Melody RNN with lookback encoding.",
            LookbackEncoder(MelodyOneHotEncoding(DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE)),
            _config_hparams(**_ONE_HOT_HPARAMS),
        )
    if name == "attention_rnn":
        # Despite its description, attention_rnn uses the key encoder, as in Magenta (magenta-behaviour.md: "Configs").
        return MelodyRnnConfig(
            "attention_rnn",
            "Melody RNN with lookback encoding and attention.",
            KeyEncoder(DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE),
            _config_hparams(
                batch_size=128,
                rnn_layer_sizes=[128, 128],
                dropout_keep_prob=0.5,
                attn_length=40,
                clip_norm=3.0,
                learning_rate=0.001,
            ),
        )
    raise MelodylibError(f"unknown config {name!r}: choose one of {', '.join(CONFIG_NAMES)}")


def _apply_hparams(config: MelodyRnnConfig, hparams: str | dict | HParams | None) -> None:
    if isinstance(hparams, HParams):
        config.hparams = hparams.copy()
        config.hparams.validate()
    else:
        config.hparams = config.hparams.with_overrides(hparams)


def get_config(
    name: str,
    hparams: str | dict | HParams | None = None,
    *,
    generator_id: str | None = None,
    description: str | None = None,
) -> MelodyRnnConfig:
    """A fresh copy of a default config with `--hparams` text / a dict applied (an HParams replaces them).

    `generator_id` / `description` override the config's details, like Magenta's --generator_id flags.
    """
    config = _default_config(name)
    _apply_hparams(config, hparams)
    if generator_id:
        config.name = generator_id
    if description:
        config.description = description
    return config


def config_from_encoder_name(
    encoder_name: str,
    hparams: str | dict | HParams | None = None,
    generator_id: str | None = None,
    description: str | None = None,
) -> MelodyRnnConfig:
    """Magenta's `--melody_encoder_decoder` (magenta-behaviour.md: "Config flags"): range 48..84, key 0, default encoder settings,
    base-default hparams merged with `hparams`."""
    if encoder_name == "onehot":
        encoder: EventSequenceEncoder = OneHotEncoder(
            MelodyOneHotEncoding(DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE)
        )
    elif encoder_name == "lookback":
        encoder = LookbackEncoder(MelodyOneHotEncoding(DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE))
    elif encoder_name == "key":
        encoder = KeyEncoder(DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE)
    else:
        raise MelodylibError(
            f"--melody_encoder_decoder {encoder_name!r} is unknown: choose one of {', '.join(ENCODER_KINDS)}"
        )
    # Magenta leaves the id empty when --generator_id is not given; we name the encoder instead.
    config = MelodyRnnConfig(
        generator_id or f"custom_{encoder_name}",
        description
        or f"Melody RNN with the {encoder_name} encoder (from --melody_encoder_decoder).",
        encoder,
        HParams(),
    )
    _apply_hparams(config, hparams)
    return config


def config_from_flags(
    config: str | None = None,
    melody_encoder_decoder: str | None = None,
    hparams: str | dict | HParams | None = None,
    generator_id: str | None = None,
    generator_description: str | None = None,
) -> MelodyRnnConfig:
    """magenta-behaviour.md: "Config flags": exactly one of --config or --melody_encoder_decoder, plus --hparams and the generator details."""
    if bool(config) == bool(melody_encoder_decoder):
        raise MelodylibError(
            "give exactly one of --config (one of "
            + ", ".join(CONFIG_NAMES)
            + ") or --melody_encoder_decoder "
            "(one of " + ", ".join(ENCODER_KINDS) + ")"
        )
    if config:
        return get_config(
            config, hparams, generator_id=generator_id, description=generator_description
        )
    return config_from_encoder_name(
        melody_encoder_decoder, hparams, generator_id, generator_description
    )
