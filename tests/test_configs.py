"""The four configs (magenta-behaviour.md: "Configs", "Hyperparameters", "Encoding sizes"), config validation (magenta-behaviour.md: "Config validation"), flags (magenta-behaviour.md: "Config flags") and hparams parsing."""

from __future__ import annotations

import json

import pytest

from melodylib.encoding.configs import (
    CONFIG_NAMES,
    HParams,
    MelodyRnnConfig,
    config_from_dict,
    config_from_encoder_name,
    config_from_flags,
    config_to_dict,
    get_config,
    parse_hparams,
)
from melodylib.encoding.encoders import (
    KeyEncoder,
    LookbackEncoder,
    MelodyOneHotEncoding,
    OneHotEncoder,
)
from melodylib.errors import MelodylibError

EXPECTED_CONFIGS = {
    # name: (description, encoder class, input_size, num_classes, no_event_label, min, max, key)
    "basic_rnn": ("Melody RNN with one-hot encoding.", OneHotEncoder, 38, 38, 0, 48, 84, 0),
    "mono_rnn": ("Monophonic RNN with one-hot encoding.", OneHotEncoder, 130, 130, 0, 0, 128, None),
    "lookback_rnn": ("Melody RNN with lookback encoding.", LookbackEncoder, 121, 40, 0, 48, 84, 0),
    "attention_rnn": (
        "Melody RNN with lookback encoding and attention.",
        KeyEncoder,
        74,
        40,
        36,
        48,
        84,
        0,
    ),
}


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_default_configs(name):
    description, encoder_class, input_size, num_classes, no_event_label, min_note, max_note, key = (
        EXPECTED_CONFIGS[name]
    )
    config = get_config(name)
    assert config.name == name and config.description == description
    assert type(config.encoder) is encoder_class
    assert (config.encoder.input_size, config.encoder.num_classes) == (input_size, num_classes)
    assert (config.input_size, config.num_classes, config.no_event_label) == (
        input_size,
        num_classes,
        no_event_label,
    )
    assert (config.min_note, config.max_note, config.transpose_to_key) == (min_note, max_note, key)
    assert config.steps_per_quarter == 4


def test_config_names():
    assert CONFIG_NAMES == ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")


def test_default_encoder_settings():
    assert get_config("lookback_rnn").encoder.lookback_distances == (16, 32)
    assert get_config("lookback_rnn").encoder.binary_counter_bits == 5
    assert get_config("attention_rnn").encoder.binary_counter_bits == 7
    assert get_config("mono_rnn").encoder.encoding == MelodyOneHotEncoding(0, 128)


@pytest.mark.parametrize("name", ["basic_rnn", "mono_rnn", "lookback_rnn"])
def test_one_hot_config_hparams(name):
    assert get_config(name).hparams == HParams(
        batch_size=128,
        rnn_layer_sizes=[128, 128],
        dropout_keep_prob=0.5,
        attn_length=0,
        clip_norm=5.0,
        learning_rate=0.001,
    )


def test_attention_config_hparams():
    assert get_config("attention_rnn").hparams == HParams(
        batch_size=128,
        rnn_layer_sizes=[128, 128],
        dropout_keep_prob=0.5,
        attn_length=40,
        clip_norm=3.0,
        learning_rate=0.001,
    )


def test_base_default_hparams():
    assert HParams() == HParams(
        batch_size=64,
        rnn_layer_sizes=[128, 128],
        dropout_keep_prob=1.0,
        attn_length=0,
        clip_norm=3.0,
        learning_rate=0.001,
        residual_connections=False,
        use_cudnn=False,
    )


def test_get_config_returns_fresh_objects():
    first = get_config("basic_rnn")
    first.hparams.rnn_layer_sizes.append(7)
    first.hparams.batch_size = 1
    second = get_config("basic_rnn")
    assert second.hparams.rnn_layer_sizes == [128, 128] and second.hparams.batch_size == 128
    assert first is not second and first.encoder is not second.encoder


def test_get_config_unknown_name_lists_the_names():
    with pytest.raises(MelodylibError, match="basic_rnn, mono_rnn, lookback_rnn, attention_rnn"):
        get_config("attention")


def test_get_config_with_hparams_text_dict_and_object():
    config = get_config("attention_rnn", "batch_size=64,rnn_layer_sizes=[64,64]")
    assert config.hparams.batch_size == 64 and config.hparams.rnn_layer_sizes == [64, 64]
    assert (
        config.hparams.attn_length == 40 and config.hparams.clip_norm == 3.0
    )  # the config's own values stay
    assert get_config("basic_rnn", {"clip_norm": 1}).hparams.clip_norm == 1.0
    replacement = HParams(batch_size=5)
    config = get_config("basic_rnn", replacement)
    assert config.hparams == replacement and config.hparams is not replacement
    config = get_config("basic_rnn", generator_id="my_rnn", description="Mine.")
    assert (config.name, config.description) == ("my_rnn", "Mine.")


# --------------------------------------------------------------------------------------------
# hparams parsing
# --------------------------------------------------------------------------------------------


def test_parse_magenta_syntax_with_brackets():
    hparams = parse_hparams("batch_size=64,rnn_layer_sizes=[64,64]", HParams())
    assert hparams.batch_size == 64 and hparams.rnn_layer_sizes == [64, 64]
    three = parse_hparams("rnn_layer_sizes=[32,64,128],dropout_keep_prob=0.8", HParams())
    assert three.rnn_layer_sizes == [32, 64, 128] and three.dropout_keep_prob == 0.8


@pytest.mark.parametrize(
    "text",
    [
        " batch_size = 64 , rnn_layer_sizes = [ 64 , 64 ] ",
        '"batch_size=64,rnn_layer_sizes=[64,64]"',
        "'batch_size=64,rnn_layer_sizes=[64,64]'",
        "batch_size=64,rnn_layer_sizes=[64,64],",
        'batch_size="64",rnn_layer_sizes=[64,64]',
    ],
)
def test_parse_tolerates_spaces_and_quotes(text):
    hparams = parse_hparams(text, HParams())
    assert hparams.batch_size == 64 and hparams.rnn_layer_sizes == [64, 64]


def test_parse_keeps_the_base_and_does_not_change_it():
    base = get_config("attention_rnn").hparams
    hparams = parse_hparams("batch_size=8", base)
    assert hparams.attn_length == 40 and hparams.batch_size == 8 and base.batch_size == 128
    assert parse_hparams("", base) == base and parse_hparams(None, base) == base
    assert parse_hparams("", base) is not base


def test_parse_booleans_and_numbers():
    hparams = parse_hparams(
        "residual_connections=True,use_cudnn=false,learning_rate=1e-4,clip_norm=5", HParams()
    )
    assert hparams.residual_connections is True and hparams.use_cudnn is False
    assert hparams.learning_rate == pytest.approx(1e-4) and hparams.clip_norm == 5.0
    assert isinstance(hparams.clip_norm, float)


@pytest.mark.parametrize(
    "text",
    [
        "batch_size=64,rnn_layer_sizes=[64,64]\u201d",
        "\u201cbatch_size=64\u201d",
        "batch_size=\u201864\u2019",
    ],
)
def test_parse_rejects_typographic_quotes(text):
    with pytest.raises(MelodylibError, match="typographic quote"):
        parse_hparams(text, HParams())


def test_parse_unknown_name_lists_valid_names():
    with pytest.raises(
        MelodylibError,
        match=r"unknown hparam 'batchsize'.*batch_size.*Valid names: batch_size, "
        r"rnn_layer_sizes, dropout_keep_prob, attn_length, clip_norm, "
        r"learning_rate, residual_connections, use_cudnn",
    ):
        parse_hparams("batchsize=64", HParams())


@pytest.mark.parametrize(
    "text, name, expected",
    [
        ("batch_size=sixty", "batch_size", "a whole number"),
        ("batch_size=64.5", "batch_size", "a whole number"),
        ("dropout_keep_prob=half", "dropout_keep_prob", "a number"),
        ("learning_rate=nan", "learning_rate", "a number"),
        ("rnn_layer_sizes=[64,x]", "rnn_layer_sizes", "a list of whole numbers"),
        ("use_cudnn=maybe", "use_cudnn", "true or false"),
    ],
)
def test_parse_bad_value_names_the_hparam_and_type(text, name, expected):
    with pytest.raises(MelodylibError, match=f"hparam {name}=.*expected {expected}"):
        parse_hparams(text, HParams())


@pytest.mark.parametrize(
    "text, name",
    [
        ("batch_size=0", "batch_size"),
        ("rnn_layer_sizes=[]", "rnn_layer_sizes"),
        ("rnn_layer_sizes=[64,0]", "rnn_layer_sizes"),
        ("dropout_keep_prob=0", "dropout_keep_prob"),
        ("dropout_keep_prob=1.5", "dropout_keep_prob"),
        ("attn_length=-1", "attn_length"),
        ("clip_norm=0", "clip_norm"),
        ("learning_rate=-0.1", "learning_rate"),
    ],
)
def test_parse_range_checks(text, name):
    with pytest.raises(MelodylibError, match=f"hparam {name}=.*out of range"):
        parse_hparams(text, HParams())


@pytest.mark.parametrize(
    "text, message",
    [
        ("batch_size=64,rnn_layer_sizes=[64,64", "without a matching"),
        ("rnn_layer_sizes=64]", "without a matching"),
        ("rnn_layer_sizes=64,64", "not name=value"),
        ("batch_size=1,batch_size=2", "given twice"),
    ],
)
def test_parse_structure_errors(text, message):
    with pytest.raises(MelodylibError, match=message):
        parse_hparams(text, HParams())


def test_parse_as_class_and_instance_method():
    assert HParams.parse("batch_size=7") == HParams(batch_size=7)
    attention = get_config("attention_rnn").hparams
    assert attention.parse("batch_size=7").attn_length == 40


def test_hparams_string_and_dict_round_trips():
    hparams = HParams(
        batch_size=3,
        rnn_layer_sizes=[5, 6, 7],
        dropout_keep_prob=0.25,
        attn_length=9,
        clip_norm=2.5,
        learning_rate=0.01,
        residual_connections=True,
    )
    text = hparams.to_string()
    assert text.startswith("batch_size=3,rnn_layer_sizes=[5,6,7],dropout_keep_prob=0.25,")
    assert HParams.parse(text) == hparams
    stored = json.loads(json.dumps(hparams.to_dict()))
    assert HParams.from_dict(stored) == hparams
    with pytest.raises(MelodylibError, match="unknown hparam 'layers'"):
        HParams.from_dict({"layers": [1]})


def test_hparams_constructor_checks_types_and_ranges():
    with pytest.raises(MelodylibError, match="batch_size"):
        HParams(batch_size=0)
    with pytest.raises(MelodylibError, match="batch_size"):
        HParams(batch_size=True)
    with pytest.raises(MelodylibError, match="rnn_layer_sizes"):
        HParams(rnn_layer_sizes=128)
    assert HParams(clip_norm=5).clip_norm == 5.0
    assert HParams(rnn_layer_sizes=(64, 64)).rnn_layer_sizes == [64, 64]


# --------------------------------------------------------------------------------------------
# Config validation (magenta-behaviour.md: "Config validation"), flags (magenta-behaviour.md: "Config flags"), storage
# --------------------------------------------------------------------------------------------


def make_config(min_note=48, max_note=84, transpose_to_key=0, encoder=None):
    encoder = encoder or OneHotEncoder(MelodyOneHotEncoding(min_note, max_note))
    return MelodyRnnConfig(
        "test", "A test config.", encoder, HParams(), min_note, max_note, transpose_to_key
    )


@pytest.mark.parametrize(
    "min_note, max_note, key, message",
    [
        (-1, 84, 0, "min_note must be >= 0"),
        (48, 129, 0, "max_note must be <= 128"),
        (48, 59, 0, "at least 12 pitches"),
        (48, 84, 12, "transpose_to_key"),
        (48, 84, -1, "transpose_to_key"),
    ],
)
def test_config_validation(min_note, max_note, key, message):
    encoder = OneHotEncoder(MelodyOneHotEncoding(0, 128))
    with pytest.raises(MelodylibError, match=message):
        make_config(
            min_note, max_note, key, encoder=encoder if min_note < 0 or max_note > 128 else None
        )


def test_config_validation_accepts_the_limits_and_no_key():
    assert make_config(48, 60, None).transpose_to_key is None
    assert make_config(0, 128, 11).max_note == 128


def test_config_rejects_an_encoder_with_another_range():
    with pytest.raises(MelodylibError, match="encoder covers 60..72"):
        make_config(48, 84, 0, encoder=KeyEncoder(60, 72))


@pytest.mark.parametrize(
    "encoder_name, encoder_class, input_size, num_classes",
    [
        ("onehot", OneHotEncoder, 38, 38),
        ("lookback", LookbackEncoder, 121, 40),
        ("key", KeyEncoder, 74, 40),
    ],
)
def test_config_from_encoder_name(encoder_name, encoder_class, input_size, num_classes):
    config = config_from_encoder_name(
        encoder_name, "rnn_layer_sizes=[32]", "my_id", "My description."
    )
    assert type(config.encoder) is encoder_class
    assert (config.input_size, config.num_classes) == (input_size, num_classes)
    assert (config.min_note, config.max_note, config.transpose_to_key) == (48, 84, 0)
    assert (config.name, config.description) == ("my_id", "My description.")
    # Base-default hparams merged with the flag.
    assert config.hparams == HParams(rnn_layer_sizes=[32])


def test_config_from_encoder_name_unknown():
    with pytest.raises(MelodylibError, match="onehot, lookback, key"):
        config_from_encoder_name("attention")


def test_config_from_flags_needs_exactly_one_source():
    with pytest.raises(MelodylibError, match="exactly one"):
        config_from_flags()
    with pytest.raises(MelodylibError, match="exactly one"):
        config_from_flags(config="basic_rnn", melody_encoder_decoder="onehot")
    config = config_from_flags(config="lookback_rnn", hparams="batch_size=2", generator_id="x")
    assert (config.name, config.hparams.batch_size, type(config.encoder)) == (
        "x",
        2,
        LookbackEncoder,
    )
    assert type(config_from_flags(melody_encoder_decoder="key").encoder) is KeyEncoder


@pytest.mark.parametrize("name", CONFIG_NAMES)
def test_config_dict_round_trip(name):
    config = get_config(name, "batch_size=16,rnn_layer_sizes=[8,8]")
    stored = json.loads(json.dumps(config_to_dict(config)))
    assert stored["encoder"]["kind"] in ("onehot", "lookback", "key")
    rebuilt = config_from_dict(stored)
    assert rebuilt == config
    assert rebuilt.to_dict() == config.to_dict()


def test_config_from_dict_missing_keys():
    stored = get_config("basic_rnn").to_dict()
    del stored["encoder"]
    with pytest.raises(MelodylibError, match="missing encoder"):
        config_from_dict(stored)
