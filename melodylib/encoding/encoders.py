"""Melody event encodings (magenta-behaviour.md: "Event one-hot mapping") and the three sequence encoders of the Melody RNN configs (magenta-behaviour.md: "Encoder contract").

This module is the one place to import encoders from; each family lives in its own module:
`events_one_hot` (one event <-> one class), `sequence_encoder` (the contract all encoders keep),
`one_hot_encoders` (one-hot and lookback), `key_encoder` (attention_rnn's key encoder) and
`feature_blocks` (how an encoder names its input columns). `encoder_from_dict` rebuilds an
encoder from what a bundle stored.
"""

from __future__ import annotations

from melodylib.encoding.events_one_hot import (
    MelodyOneHotEncoding,
    OneHotEncoding,
    as_event_array,
    event_name,
)
from melodylib.encoding.feature_blocks import FeatureBlock
from melodylib.encoding.key_encoder import KEY_MEMBERSHIP, MAJOR_SCALE, KeyEncoder
from melodylib.encoding.one_hot_encoders import LookbackEncoder, OneHotEncoder
from melodylib.encoding.sequence_encoder import DEFAULT_LOOKBACK_DISTANCES, EventSequenceEncoder
from melodylib.errors import MelodylibError

__all__ = [
    "DEFAULT_LOOKBACK_DISTANCES",
    "ENCODER_KINDS",
    "KEY_MEMBERSHIP",
    "MAJOR_SCALE",
    "EventSequenceEncoder",
    "FeatureBlock",
    "KeyEncoder",
    "LookbackEncoder",
    "MelodyOneHotEncoding",
    "OneHotEncoder",
    "OneHotEncoding",
    "as_event_array",
    "encoder_from_dict",
    "event_name",
]

ENCODER_KINDS = ("onehot", "lookback", "key")


def encoder_from_dict(settings: dict) -> EventSequenceEncoder:
    """Rebuild an encoder from `EventSequenceEncoder.to_dict()` output (as stored in a bundle)."""
    settings = dict(settings)
    kind = settings.pop("kind", None)
    try:
        if kind == "onehot":
            return OneHotEncoder(MelodyOneHotEncoding(**settings))
        if kind == "lookback":
            encoding = MelodyOneHotEncoding(settings.pop("min_note"), settings.pop("max_note"))
            return LookbackEncoder(encoding, **settings)
        if kind == "key":
            return KeyEncoder(**settings)
    except (KeyError, TypeError) as error:
        raise MelodylibError(
            f"stored {kind!r} encoder settings are incomplete or unknown: {error}"
        ) from error
    raise MelodylibError(
        f"unknown encoder kind {kind!r}: expected one of {', '.join(ENCODER_KINDS)}"
    )
