"""Weight initialisers that reproduce upstream TF1's LSTM initialisation in Keras' weight layout.

Used by every LSTM of the network (Keras' LSTM, LeanLSTM and the LSTM inside AttentionCell).
"""

from __future__ import annotations

import math

import keras

__all__ = ["joint_glorot_uniform"]


def joint_glorot_uniform(input_dim: int, units: int) -> keras.initializers.Initializer:
    """Uniform initialiser matching TF1 BasicLSTMCell's Glorot-uniform on its *joint* kernel.

    Upstream keeps one kernel [input_dim + units, 4·units] over [x; h], initialised Glorot-uniform
    with limit sqrt(6 / (input_dim + units + 4·units)). Keras splits it into `kernel`
    [input_dim, 4u] and `recurrent_kernel` [u, 4u]; giving both halves this same limit makes every
    entry identically distributed to upstream's (Keras' defaults, Glorot on each half and an
    orthogonal recurrent kernel, would not).
    """
    limit = math.sqrt(6.0 / (input_dim + units + 4 * units))
    return keras.initializers.RandomUniform(minval=-limit, maxval=limit)
