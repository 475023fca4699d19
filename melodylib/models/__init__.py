"""The networks: build_model (stacked LSTMs, attention for attention_rnn) and the step model."""
