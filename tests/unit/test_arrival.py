"""core.arrival: when a request reached the server (issue 22 item 3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.arrival import ACCEPTED_AT, MAX_AGE, MAX_SKEW, arrival, arrived_at, parse_request_start

NOW = 1_796_000_000.0  # 2026-11


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("t=1796000000.123", 1796000000.123),
        ("1796000000.5", 1796000000.5),
        ("t=1796000000123", 1796000000.123),  # milliseconds
        ("t=1796000000123456", 1796000000.123456),  # microseconds
        ("t=1796000000", 1796000000.0),
        (" t=1796000000.25 ", 1796000000.25),
    ],
)
def test_the_forms_proxies_send(value, seconds):
    assert parse_request_start(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [None, "", "t=", "t=abc", "t=-1", "t=1e9", "t=１７９６００００００", "t=" + "9" * 19, "x" * 50],
)
def test_what_is_not_a_time(value):
    assert parse_request_start(value) is None


def test_the_header_counts_only_from_a_trusted_proxy():
    assert arrival("t=1795999994.000", 1795999999.0, NOW, trusted=True) == (1795999994.0, None)
    assert arrival("t=1795999994.000", 1795999999.0, NOW, trusted=False) == (1795999999.0, None)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (f"t={NOW + MAX_SKEW + 1:.3f}", "in the future"),
        (f"t={NOW - MAX_AGE - 1:.3f}", "too old"),
        ("t=oops", "unreadable"),
    ],
)
def test_an_insane_header_falls_back_to_the_accept_time(header, why):
    assert arrival(header, NOW - 1, NOW, trusted=True) == (NOW - 1, why)


def test_a_header_a_little_ahead_is_now():
    assert arrival(f"t={NOW + 1:.3f}", None, NOW, trusted=True) == (NOW, None)


def test_without_any_stamp_the_request_arrived_now():
    assert arrived_at({}, 0, now=NOW) == NOW
    assert arrived_at({ACCEPTED_AT: NOW - 3}, 1, now=NOW) == NOW - 3
    environ = {ACCEPTED_AT: NOW - 3, "HTTP_X_REQUEST_START": f"t={NOW - 7:.3f}"}
    assert arrived_at(environ, 1, now=NOW) == NOW - 7
    assert arrived_at(environ, 0, now=NOW) == NOW - 3


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_header_gives_a_time_within_bounds(value):
    when, _why = arrival(value, None, NOW, trusted=True)
    assert NOW - MAX_AGE <= when <= NOW
