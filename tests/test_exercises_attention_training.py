"""The build exercises of notebooks 07 and 08: one attention step in keras.ops, checked on the
pretrained attention_rnn's real states, and one training step with tf.GradientTape, checked
against the library's own compiled step. Each checker accepts its solution, says "not written
yet" for the notebook's unwritten scaffold, and names what is wrong in the usual wrong answers."""

from __future__ import annotations

import numpy as np
import pytest

import melodylib
from melodylib.course import exercises
from melodylib.course.lesson import pretrained_model

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
ops = keras.ops


def verdict(checker, answer, capsys) -> tuple[bool, str]:
    result = checker(answer)
    return result, capsys.readouterr().out


# --- 07: attend -------------------------------------------------------------------------------


def attend_with(query_order="ch", bias=True, squash=True, softmax_axis=-1, mix="memory"):
    """An attend with one slip (or none, with the defaults)."""

    def attend(c, h, memory, keys, cell):
        joined = ops.concatenate([c, h] if query_order == "ch" else [h, c], axis=-1)
        query = ops.matmul(joined, cell.query_kernel)
        if bias:
            query = query + cell.query_bias
        inside = keys + ops.expand_dims(query, 1)
        scores = ops.sum(cell.attn_v * (ops.tanh(inside) if squash else inside), axis=-1)
        weights = ops.softmax(scores, axis=softmax_axis)
        mixed = memory if mix == "memory" else keys
        context = ops.sum(ops.expand_dims(weights, -1) * mixed, axis=1)
        return scores, weights, context

    return attend


def test_attend_solution_is_accepted_on_the_pretrained_states(capsys):
    ok, out = verdict(exercises.check_attend, exercises.solution_attend(), capsys)
    assert ok is True and out.startswith("Correct!") and "pretrained attention_rnn" in out
    ok, out = verdict(exercises.check_attend, attend_with(), capsys)
    assert ok is True, out


def test_the_unwritten_scaffold_is_not_written_yet(capsys):
    def attend(c, h, memory, keys, cell):
        raise NotImplementedError("write the query, the scores, their softmax and the context")

    ok, out = verdict(exercises.check_attend, attend, capsys)
    assert ok is False and "not written yet" in out and "Hint:" in out
    chosen = exercises.attend_yours_or_reference(attend)
    assert "use the model answer" in capsys.readouterr().out
    assert exercises.check_attend(chosen) is True


@pytest.mark.parametrize(
    "slip, expected",
    [
        ({"query_order": "hc"}, "c first"),
        ({"bias": False}, "query bias"),
        ({"squash": False}, "tanh"),
        ({"softmax_axis": 0}, "not 1: softmax over the 40 slots"),
        ({"mix": "keys"}, "not their keys"),
    ],
)
def test_attend_slips_are_named(slip, expected, capsys):
    ok, out = verdict(exercises.check_attend, attend_with(**slip), capsys)
    assert ok is False and expected in out, out
    assert "tune '" in out and "step " in out  # where it went wrong


def test_attend_says_which_output_and_by_how_much(capsys):
    ok, out = verdict(exercises.check_attend, attend_with(query_order="hc"), capsys)
    assert ok is False and "scores differ" in out and "off by" in out and "steps back" in out
    ok, out = verdict(exercises.check_attend, attend_with(mix="keys"), capsys)
    assert ok is False and "context differs" in out and "unit " in out


def test_attend_shape_and_form_mistakes_are_verdicts(capsys):
    solution = exercises.solution_attend()

    def wrong_axis(c, h, memory, keys, cell):
        scores, weights, _ = solution(c, h, memory, keys, cell)
        return scores, weights, ops.sum(ops.expand_dims(weights, -1) * memory, axis=2)

    ok, out = verdict(exercises.check_attend, wrong_axis, capsys)
    assert ok is False and "shape (2, 40)" in out and "(2, 128)" in out

    ok, out = verdict(exercises.check_attend, lambda c, h, m, k, cell: (1, 2), capsys)
    assert ok is False and "three" in out

    ok, out = verdict(exercises.check_attend, lambda c, h, m, k, cell: 1 / 0, capsys)
    assert ok is False and "ZeroDivisionError" in out

    for nonsense in (None, 3, "attend"):
        ok, out = verdict(exercises.check_attend, nonsense, capsys)
        assert ok is False and "the function itself" in out


def test_attend_checks_the_states_of_any_attention_model(capsys):
    config = melodylib.get_config("attention_rnn", "rnn_layer_sizes=[8]")
    events = ([60, -2, 62, -2, 64, -2, 65, -2] * 8)[:50]
    states = exercises.attention_states(
        melodylib.build_model(config), config.encoder.inputs(events)
    )
    assert len(states.c) == 50 and states.memory[0].shape == (1, 40, 8)
    assert exercises.check_attend(exercises.solution_attend(), states) is True
    assert "the given states" in capsys.readouterr().out
    assert exercises.check_attend(attend_with(query_order="hc"), states) is False
    assert "'tune 1', step 0" in capsys.readouterr().out


def test_attention_map_with_the_solution_is_the_cells_own():
    from melodylib.course.exercises.real_melodies import corpus_melodies

    lesson_model = pretrained_model("attention_rnn")
    assert lesson_model is not None
    _, events = corpus_melodies("attention_rnn", 1)[0]
    inputs = lesson_model.config.encoder.inputs(events[:50])
    ours = exercises.attention_map(exercises.solution_attend(), lesson_model.model, inputs)
    cells = np.asarray(melodylib.attention_weights(lesson_model.model, inputs), dtype=float)
    assert ours.shape == (50, 40)
    np.testing.assert_allclose(ours, cells, atol=1e-5)


def test_attention_peaks_are_the_highest_local_peaks_in_steps_back():
    weights = np.full((100, 40), 1.0)
    weights[:, 40 - 15] += 5.0  # 15 steps back (column 25)
    weights[:, 40 - 14] += 4.0  # its shoulder, not a peak of its own
    weights[:, 40 - 31] += 6.0  # 31 steps back
    weights[:, 40 - 3] += 2.0  # a smaller peak
    weights /= weights.sum(axis=1, keepdims=True)
    assert exercises.attention_peaks(weights) == [15, 31]
    assert exercises.attention_peaks(weights, count=3) == [3, 15, 31]


# --- 08: train_step ---------------------------------------------------------------------------


def step_with(loss_kind="masked mean", clipping="each", update=True, returns="loss"):
    """A train_step with one slip (or none, with the defaults)."""

    def train_step(model, optimizer, inputs, labels, mask, clip_norm):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits
            )
            if loss_kind == "masked mean":
                loss = tf.reduce_sum(cross_entropy * mask) / tf.reduce_sum(mask)
            elif loss_kind == "mean of everything":
                loss = tf.reduce_mean(cross_entropy)
            else:
                loss = tf.reduce_sum(cross_entropy * mask)
        gradients = tape.gradient(loss, model.trainable_variables)
        if clipping == "each":
            gradients = [tf.clip_by_norm(gradient, clip_norm) for gradient in gradients]
        elif clipping == "global":
            gradients, _ = tf.clip_by_global_norm(gradients, clip_norm)
        if update:
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss if returns == "loss" else None

    return train_step


def test_train_step_solution_is_accepted(capsys):
    ok, out = verdict(exercises.check_train_step, exercises.solution_train_step(), capsys)
    assert ok is True and out.startswith("Correct!") and "library's own training step" in out


def test_the_unwritten_train_step_is_not_written_yet(capsys):
    def train_step(model, optimizer, inputs, labels, mask, clip_norm):
        raise NotImplementedError("write the tape, the masked loss, the clipping and the update")

    ok, out = verdict(exercises.check_train_step, train_step, capsys)
    assert ok is False and "not written yet" in out and "Hint:" in out
    chosen = exercises.train_step_yours_or_reference(train_step)
    assert "use the model answer" in capsys.readouterr().out
    assert chosen is not train_step


@pytest.mark.parametrize(
    "slip, expected",
    [
        ({"clipping": "none"}, "does not clip the gradients"),
        ({"clipping": "global"}, "by their global norm"),
        ({"loss_kind": "mean of everything"}, "padding too"),
        ({"loss_kind": "sum"}, "That is the sum"),
        ({"update": False}, "no weight changed"),
        ({"returns": "nothing"}, "not the loss"),
    ],
)
def test_train_step_slips_are_named(slip, expected, capsys):
    ok, out = verdict(exercises.check_train_step, step_with(**slip), capsys)
    assert ok is False and expected in out, out
    assert "step 1" in out


def test_train_step_names_the_variable_that_differs(capsys):
    ok, out = verdict(exercises.check_train_step, step_with(clipping="none"), capsys)
    assert ok is False and "differs from the library's by up to" in out
    assert any(name in out for name in ("lstm_0/", "lstm_1/", "logits/"))


def test_train_step_errors_and_nonsense_are_verdicts(capsys):
    def broken(model, optimizer, inputs, labels, mask, clip_norm):
        raise ValueError("shapes do not match")

    ok, out = verdict(exercises.check_train_step, broken, capsys)
    assert ok is False and "ValueError: shapes do not match" in out
    for nonsense in (None, 3, "train_step"):
        ok, out = verdict(exercises.check_train_step, nonsense, capsys)
        assert ok is False and "the function itself" in out


def test_the_solutions_of_07_and_08_come_from_the_registry(capsys):
    answers = exercises.solution("08", show=False)
    assert set(answers) == {"train_step", "eval_perplexity", "eval_event_accuracy"}
    assert exercises.check_train_step(answers["train_step"]) is True
    rng = np.random.default_rng(3)
    weights = rng.random((64, 40))
    answers = exercises.solution("07", show=False, weights=weights / weights.sum(1, keepdims=True))
    assert set(answers) == {"attend", "attention_peak"}
    assert exercises.check_attend(answers["attend"]) is True
