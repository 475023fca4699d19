"""The four configs' names, on their own so that the command line's --help needs no numpy."""

CONFIG_NAMES = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
