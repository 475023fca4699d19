"""The melody_rnn command line, with the demo and the installation check."""
