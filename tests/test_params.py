"""Settings checked where they are used (autoencoders.util.params): the constraints, their words, and
the one-line error that names the setting by the path the user typed."""

from __future__ import annotations

import pickle

import pytest

from autoencoders.util.params import (
    FRACTION,
    POSITIVE_INT,
    POSITIVE_INTS,
    Interval,
    InvalidParameter,
    ListOf,
    Options,
    check_params,
)
from pipelines.hydra_glue import build, compose_config
from pipelines.stage_keys import source_of


@pytest.mark.parametrize(
    ("rule", "good", "bad", "words"),
    [
        (POSITIVE_INT, [1, 7], [0, -1, 1.5, True, "3"], "a positive integer"),
        (FRACTION, [0.5, 0.01], [0, 1, "x", None], "between 0 and 1 (exclusive)"),
        (Interval(int, 0, 13), [0, 13], [14, -1], "between 0 and 13"),
        (POSITIVE_INTS, [[1], [2, 3]], [[], [0], "12", [1.5]], "a non-empty list of positive integers"),
        (ListOf(POSITIVE_INT, "widths", empty=True), [[], [4]], [[0]], "a list of widths"),
        (Options(("a", "b")), ["a"], ["c", None], "one of ['a', 'b']"),
    ],
)
def test_each_constraint_accepts_what_it_says_and_says_it(rule, good, bad, words) -> None:
    assert all(rule(value) for value in good)
    assert not any(rule(value) for value in bad)
    assert str(rule) == words


def test_a_failed_check_names_the_setting_and_what_is_allowed() -> None:
    with pytest.raises(InvalidParameter) as raised:
        check_params({"k": [POSITIVE_INT, None], "n": POSITIVE_INT}, {"k": None, "n": 0})
    assert str(raised.value) == "n must be a positive integer, got 0"
    assert str(raised.value.under("method")) == "method.n must be a positive integer, got 0"
    copied = pickle.loads(pickle.dumps(raised.value))  # a multirun job's error crosses processes
    assert str(copied) == str(raised.value) and copied.name == "n"


def test_an_interpolated_setting_is_named_as_the_user_wrote_it() -> None:
    cfg = compose_config("train", ["model.code_dim=0"])
    assert source_of(cfg, "model.net.code_dim") == "model.code_dim"  # ${..code_dim}
    assert source_of(cfg, "model.net.input_shape") == "dataset.input_shape"  # ${dataset.input_shape}
    assert source_of(cfg, "model.net.activation") == "model.net.activation"  # written there
    with pytest.raises(InvalidParameter, match=r"^model.code_dim must be a positive integer, got 0$"):
        build(cfg.model)
