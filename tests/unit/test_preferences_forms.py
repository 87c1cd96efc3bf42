"""Reading what browsers and mailbox providers send to the preference endpoints."""

from __future__ import annotations

import pytest

from comeback.messaging.preferences import read_form
from comeback.messaging.render import browser_locale


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


@pytest.mark.parametrize(
    ("form", "action"),
    [
        ({"List-Unsubscribe": ["One-Click"]}, "one_click"),
        ({"leave_all": ["1"]}, "leave_all"),
        ({"save": ["1"], "topic": ["rewards", "news"]}, "save"),
        ({"save": ["1"]}, "save"),  # every box unticked, on purpose
        ({}, None),  # an empty body is not "no topic ticked"
        ({"topic": ["rewards"]}, None),  # no button pressed
        ({"save": ["1"], "topic": ["crypto"]}, None),
        ({"List-Unsubscribe": ["one-click"]}, None),  # RFC 8058's value is exact
        ({"List-Unsubscribe": ["Yes"], "leave_all": ["1"]}, None),
    ],
)
def test_only_one_click_or_our_own_form_is_an_action(form, action):
    from comeback.messaging.preferences import form_action

    assert form_action(form) == action
