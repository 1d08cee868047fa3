"""RFC 23 Flux Standard Duration parsing and Flux-compatible formatting."""

import datetime
import math

import pytest

from fluxlab.job.duration import (
    DurationError,
    duration_seconds,
    fsd,
    hms,
    parse_fsd,
    parse_time_limit,
)


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("0", 0.0),
        ("10", 10.0),
        ("1.5", 1.5),
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1.5m", 90.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        (".5m", 30.0),
        ("1e2", 100.0),
        ("inf", math.inf),
        ("INFINITY", math.inf),
        (" 3m ", 180.0),
    ],
)
def test_parse_fsd(text, seconds):
    assert parse_fsd(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "-1", "1x", "m", "1.5.2s", "nan", "1 m", "+5", "1_0", "1e999"]
)
def test_parse_fsd_rejects(text):
    with pytest.raises(DurationError):
        parse_fsd(text)


@pytest.mark.parametrize(
    "seconds, text",
    [
        (0, "0s"),
        (0.0005, "0s"),
        (1.5, "1.500s"),
        (42, "42s"),
        (59.9, "59.9s"),
        (90, "1.5m"),
        (3600, "1h"),
        (5400, "1.5h"),
        (86400 * 1.25, "1.25d"),
        (math.inf, "inf"),
    ],
)
def test_fsd(seconds, text):
    assert fsd(seconds) == text


def test_hms():
    assert hms(0) == "0:00:00"
    assert hms(0.2) == "0:00:01"
    assert hms(3725) == "1:02:05"
    assert hms(90061) == "1 day, 1:01:01"


def test_duration_seconds_and_time_limit():
    assert duration_seconds("1m") == 60.0
    assert duration_seconds(datetime.timedelta(minutes=2)) == 120.0
    assert duration_seconds(5) == 5.0
    assert parse_time_limit("5") == 300.0
    assert parse_time_limit("5s") == 5.0
    for bad in (-1, "inf", float("nan"), True, None):
        with pytest.raises(DurationError):
            duration_seconds(bad)
