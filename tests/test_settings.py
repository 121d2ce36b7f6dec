"""Numeric settings from the environment: defaults, and errors that name the variable."""

import pytest

from orchestration.settings import env_number


def test_unset_or_empty_gives_the_default_and_a_value_is_parsed(monkeypatch):
    monkeypatch.delenv("PLAYCAST_TEST_SETTING", raising=False)
    assert env_number("PLAYCAST_TEST_SETTING", 8, low=1) == 8
    monkeypatch.setenv("PLAYCAST_TEST_SETTING", "")
    assert env_number("PLAYCAST_TEST_SETTING", 8, low=1) == 8
    monkeypatch.setenv("PLAYCAST_TEST_SETTING", "7.5")
    assert env_number("PLAYCAST_TEST_SETTING", 8, low=1) == 7.5
    monkeypatch.setenv("PLAYCAST_TEST_SETTING", "19")
    assert env_number("PLAYCAST_TEST_SETTING", 10, integer=True, low=0, high=19) == 19


@pytest.mark.parametrize(
    ("value", "bounds", "expected"),
    [
        ("ten", {"integer": True, "low": 0, "high": 19}, "expected an integer from 0 to 19"),
        ("2.5", {"integer": True, "low": 0, "high": 19}, "expected an integer from 0 to 19"),
        ("20", {"integer": True, "low": 0, "high": 19}, "expected an integer from 0 to 19"),
        ("0", {"integer": True, "low": 1}, "expected an integer of at least 1"),
        ("-3", {"low": 0}, "expected a number of at least 0"),
        ("nan", {"low": 0}, "expected a number of at least 0"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_the_range(monkeypatch, value, bounds, expected):
    monkeypatch.setenv("PLAYCAST_TEST_SETTING", value)
    with pytest.raises(ValueError) as error:
        env_number("PLAYCAST_TEST_SETTING", 1, **bounds)
    assert str(error.value) == f"PLAYCAST_TEST_SETTING={value!r}: {expected}"
