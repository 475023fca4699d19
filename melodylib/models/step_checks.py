"""The checks both step models (Keras `StepModel`, numpy `NumpyStepModel`) make of a call."""

from __future__ import annotations

from typing import Any

from melodylib.errors import MelodylibError


def check_step_call(input_shape: tuple, state_count: int, model: Any, model_name: str) -> None:
    """Refuse a step call whose inputs are not [batch, time, input_size] or whose state has the
    wrong number of parts (shared by NumpyStepModel and the Keras StepModel)."""
    if len(input_shape) != 3 or input_shape[-1] != model.input_size:
        raise MelodylibError(
            f"step inputs have shape {input_shape}; expected [batch, time, {model.input_size}] "
            "(encode the melody with the same config the model was built from)"
        )
    if state_count != len(model.state_sizes):
        raise MelodylibError(
            f"step state has {state_count} parts; expected {len(model.state_sizes)} "
            f"(start from {model_name}.zero_state(batch_size))"
        )
