"""Memory-saving layers for training: the same maths as the readable layers, with less memory.

- `attention_rnn.AttentionRNN` computes what `keras.layers.RNN(AttentionCell)` computes (the cell in
  `melodylib.models.attention_cell`), in chunks of 8 steps with a hand-written backward pass
  (`attention_chunk`);
- `lean_lstm.LeanLSTM` computes what `keras.layers.LSTM` computes, recomputing its gates in the
  backward pass instead of keeping them.

Why they exist: back-propagation through the plain layers keeps every step's intermediate
tensors, and for attention_rnn at Magenta's batch of 128 with melodies up to 511 steps that
came to 7.1 GB. With these layers every config's training peak stays under 2 GB (TensorFlow
included; see the README's training table). Both keep the weights, their names and their
variables of the plain layers, so checkpoints, bundles, the Magenta import and step-by-step
generation (which runs the plain cell loop) do not see them.

Tests that prove them equal, outputs and gradients, in tests/test_models.py:
`test_chunked_layer_equals_the_step_by_step_loop_with_its_gradients`,
`test_the_training_model_uses_the_chunked_layer_with_unchanged_weights_loss_and_gradients`,
`test_the_chunked_layer_falls_back_to_the_cell_loop_for_states`,
`test_the_lean_lstm_equals_keras_lstm_with_its_gradients` and
`test_the_lean_lstm_is_keras_lstm_for_states_and_sits_only_after_attention`.
"""
