"""Reading what browsers and mailbox providers send to the preference endpoints."""

from __future__ import annotations

import pytest

from comeback.preferences import read_form
from comeback.render import browser_locale


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ja,en-US;q=0.9,en;q=0.8", "ja"),  # a Japanese browser
        ("en-US,en;q=0.9,ja;q=0.8", "en"),
        ("fr-FR,fr;q=0.9,ja;q=0.5,en;q=0.4", "ja"),  # the best we speak, by quality
        ("de-DE,de;q=0.9", "en"),  # nothing we speak: the default
        ("ja;q=0,en", "en"),  # q=0 means "not this one"
        ("", "en"),
        (None, "en"),
        ("ja;q=bogus,en", "en"),
    ],
)
def test_the_browsers_language_is_read_from_the_whole_header(header, expected):
    assert browser_locale(header) == expected


def test_one_click_sent_as_multipart_is_understood():
    body = '--b1\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n--b1--\r\n'
    assert read_form(body, "multipart/form-data; boundary=b1") == {"List-Unsubscribe": ["One-Click"]}


def test_urlencoded_topics_are_read():
    assert read_form("topic=rewards&topic=news", "application/x-www-form-urlencoded") == {
        "topic": ["rewards", "news"]
    }
