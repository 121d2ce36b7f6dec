"""Settings from the environment: defaults, and errors that name the variable."""

import os
import subprocess
import sys

import pytest

from orchestration.settings import env_number, env_text
from tests.conftest import REPO_ROOT


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


def test_a_text_setting_is_its_default_when_empty_and_checked_otherwise(monkeypatch):
    def is_lower(text: str) -> bool:
        return text.islower()

    monkeypatch.setenv("PLAYCAST_TEST_SETTING", "")
    assert env_text("PLAYCAST_TEST_SETTING", "fine", is_lower, "lower case") == "fine"
    monkeypatch.setenv("PLAYCAST_TEST_SETTING", "ok")
    assert env_text("PLAYCAST_TEST_SETTING", "fine", is_lower, "lower case") == "ok"
    monkeypatch.setenv("PLAYCAST_TEST_SETTING", "NO")
    with pytest.raises(ValueError, match=r"^PLAYCAST_TEST_SETTING='NO': expected lower case$"):
        env_text("PLAYCAST_TEST_SETTING", "fine", is_lower, "lower case")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PLAYCAST_RETRAIN_CRON", "every tuesday", "a cron schedule like '0 6 * 9-12,1-2 2'"),
        ("PLAYCAST_RETRAIN_TIMEZONE", "Mars/Olympus", "an IANA time zone like America/New_York"),
    ],
)
def test_the_retraining_schedule_settings_are_checked_when_the_definitions_load(name, value, expected):
    code = "import sensors.schedules"
    env = {**os.environ, name: value}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=REPO_ROOT
    )
    assert result.returncode != 0
    assert f"ValueError: {name}={value!r}: expected {expected}" in result.stderr
