"""The shipped message templates: every campaign in every locale, with and without data, and hostile input."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest
from markupsafe import escape

from comeback.cli.main import main
from comeback.cli.previews import CAMPAIGNS, available, preview, sample_context
from comeback.messaging.render import LOCALES, Rendered, render

CASES = [(campaign, locale) for campaign in CAMPAIGNS for locale in LOCALES]
IDS = [f"{campaign}-{locale}" for campaign, locale in CASES]

# what the sender always puts in the context, whatever the campaign
ALWAYS = (
    "campaign",
    "step",
    "locale",
    "shop",
    "contact",
    "cta_url",
    "unsubscribe_url",
    "days_since_last_activity",
)

KANA = re.compile(r"[\u3040-\u30ff]")
JAPANESE = re.compile(r"[\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']


class _Html(HTMLParser):
    """Checks that the tags nest and close, and collects the document's language and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.lang: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag == "a":
            self.hrefs.append(values.get("href") or "")
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void element </{tag}>")
        elif not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1] if self.open else 'nothing'}")
        else:
            self.open.pop()


def _parse(html: str) -> _Html:
    parser = _Html()
    parser.feed(html)
    parser.close()
    return parser


def _minimal(campaign: str, locale: str, **contact: Any) -> dict[str, Any]:
    """Only the always-present keys: no campaign data, no last activity."""
    context = {k: v for k, v in sample_context(campaign, locale).items() if k in ALWAYS}
    context["days_since_last_activity"] = None
    context["contact"] = {**context["contact"], **contact}
    return context


def _check(rendered: Rendered, context: dict[str, Any]) -> _Html:
    shop = context["shop"]
    assert rendered.subject.strip()
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert not CONTROL.search(rendered.subject)
    assert shop["postal_address"] in rendered.text
    assert context["unsubscribe_url"] in rendered.text
    assert str(escape(shop["postal_address"])) in rendered.html
    assert f'href="{escape(context["unsubscribe_url"])}"' in rendered.html
    parsed = _parse(rendered.html)
    assert parsed.errors == []
    assert parsed.open == []
    assert parsed.lang == context["locale"]
    assert context["unsubscribe_url"] in parsed.hrefs
    for href in parsed.hrefs:
        assert href.startswith("https://"), href
    return parsed


# -- every campaign, every locale ---------------------------------------------------------------


def test_every_campaign_ships_in_every_locale() -> None:
    assert available() == {campaign: LOCALES for campaign in CAMPAIGNS}


@pytest.mark.parametrize(("campaign", "locale"), CASES, ids=IDS)
def test_renders_with_only_the_always_present_keys(campaign: str, locale: str) -> None:
    context = _minimal(campaign, locale)
    rendered = render(campaign, locale, context)
    _check(rendered, context)
    assert "None" not in rendered.text
    assert "None" not in rendered.html


@pytest.mark.parametrize(("campaign", "locale"), CASES, ids=IDS)
def test_renders_for_a_contact_without_name_or_points(campaign: str, locale: str) -> None:
    context = _minimal(
        campaign, locale, first_name=None, last_name=None, name=None, points_balance=0, tier=None
    )
    rendered = render(campaign, locale, context)
    _check(rendered, context)
    if campaign != "winback":
        assert "None" not in rendered.subject + rendered.text + rendered.html
        greeting = "お客様" if locale == "ja" else "Hi there,"
        assert greeting in rendered.text
        assert greeting in rendered.html


@pytest.mark.parametrize(("campaign", "locale"), CASES, ids=IDS)
def test_renders_with_the_sample_data(campaign: str, locale: str) -> None:
    context = sample_context(campaign, locale)
    rendered = render(campaign, locale, context)
    _check(rendered, context)
    assert "None" not in rendered.subject + rendered.text + rendered.html
    assert len(rendered.subject) <= (40 if locale == "ja" else 60), rendered.subject
    name = context["contact"]["name"] if locale == "ja" else context["contact"]["first_name"]
    assert name in rendered.text
    assert str(escape(name)) in rendered.html


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("step", [1, 2, 3, 4])
def test_winback_steps(step: int, locale: str) -> None:
    context = sample_context("winback", locale, step)
    _check(render("winback", locale, context), context)


# -- hostile input ------------------------------------------------------------------------------


def _hostile_data(campaign: str, locale: str) -> dict[str, Any]:
    context = sample_context(campaign, locale)
    for key in ("products", "items"):
        if key in context:
            context[key] = [{**item, "name": f"<b>{item['name']}</b>"} for item in context[key]]
    for key in ("reward_name", "product_name", "code", "order_id", "reward", "tier", "discount"):
        if key in context:
            context[key] = f"<b>{context[key]}</b>"
    return context


@pytest.mark.parametrize("payload", HOSTILE, ids=["script", "img"])
@pytest.mark.parametrize(("campaign", "locale"), CASES, ids=IDS)
def test_profile_and_data_fields_are_escaped_in_html(campaign: str, locale: str, payload: str) -> None:
    context = _hostile_data(campaign, locale)
    context["contact"] = {**context["contact"], "first_name": payload, "last_name": payload}
    context["contact"]["name"] = f"{payload} {payload}"
    rendered = render(campaign, locale, context)
    _check(rendered, context)
    assert str(escape(payload)) in rendered.html
    assert "<script" not in rendered.html
    assert "<img src=x" not in rendered.html
    assert "<b>" not in rendered.html
    if any(key in context for key in ("products", "items", "reward_name", "product_name", "code")):
        assert "&lt;b&gt;" in rendered.html


@pytest.mark.parametrize(("campaign", "locale"), CASES, ids=IDS)
def test_a_newline_in_the_name_keeps_the_subject_on_one_line(campaign: str, locale: str) -> None:
    context = sample_context(campaign, locale)
    context["contact"] = {
        **context["contact"],
        "first_name": "Emma\nBcc: x@example.com",
        "last_name": "Wilson\r\n",
        "name": "Wilson\r\nEmma\nBcc: x@example.com",
    }
    rendered = render(campaign, locale, context)
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert rendered.subject.strip()


LINK_KEYS = {
    "survey": "survey_url",
    "nps": "survey_url",
    "feedback": "review_url",
    "cart": "cart_url",
    "invite": "referral_url",
}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("campaign", [*LINK_KEYS, "crosssell", "upsell", "browse"])
def test_links_that_are_not_http_fall_back_to_the_shop(campaign: str, locale: str) -> None:
    context = sample_context(campaign, locale)
    if campaign in LINK_KEYS:
        context[LINK_KEYS[campaign]] = "javascript:alert(1)"
    else:
        context["products"] = [{**p, "url": "javascript:alert(1)"} for p in context["products"]]
    rendered = render(campaign, locale, context)
    assert "javascript:" not in rendered.text
    assert "javascript:" not in rendered.html
    assert context["cta_url"] in _parse(rendered.html).hrefs


# -- language -----------------------------------------------------------------------------------


def _template_sources(locale: str) -> dict[str, str]:
    folder = resources.files("comeback.messaging") / "templates" / locale
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".j2")
    }


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_ja_templates_are_written_in_japanese(campaign: str) -> None:
    rendered = render(campaign, "ja", _minimal(campaign, "ja"))
    assert KANA.search(rendered.subject)
    body = rendered.text.split("\n--\n")[0]
    assert len(KANA.findall(body)) >= 20
    assert len(KANA.findall(rendered.html)) >= 20


@pytest.mark.parametrize("campaign", CAMPAIGNS)
def test_en_templates_contain_no_japanese(campaign: str) -> None:
    for name, source in _template_sources("en").items():
        assert not JAPANESE.search(source), name
    rendered = render(campaign, "en", sample_context(campaign, "en"))
    assert not JAPANESE.search(rendered.subject + rendered.text + rendered.html)


# -- the data keys are used ---------------------------------------------------------------------

PRODUCTS = [
    {"name": "Kyusu teapot", "url": "https://shop.example.com/p/kyusu", "price": 1200, "currency": "JPY"},
    {"name": "Tea caddy", "url": "https://shop.example.com/p/caddy", "price": 1999, "currency": "USD"},
]

# campaign, data, what the text and the HTML show for each locale, links the HTML must have
DATA_CASES: list[tuple[str, dict[str, Any], dict[str, list[str]], list[str]]] = [
    (
        "reward",
        {"points": 1500, "reward_name": "Tasting set", "code": "WELCOME10"},
        {
            "ja": ["1,500ポイント", "Tasting set", "WELCOME10"],
            "en": ["1,500 points", "Tasting set", "WELCOME10"],
        },
        [],
    ),
    ("milestone", {"orders_count": 12}, {"ja": ["12回目"], "en": ["12th order"]}, []),
    (
        "tier",
        {"tier": "gold", "previous_tier": "silver"},
        {"ja": ["シルバー", "ゴールド"], "en": ["Silver", "Gold"]},
        [],
    ),
    (
        "birthday",
        {"code": "BDAY-42", "discount": "15%"},
        {"ja": ["BDAY-42", "15%OFF"], "en": ["BDAY-42", "15% off"]},
        [],
    ),
    (
        "anniversary",
        {"years": 4, "code": "ANNIV-4", "discount": "¥500"},
        {"ja": ["4年", "ANNIV-4", "¥500OFF"], "en": ["4 years", "ANNIV-4", "¥500 off"]},
        [],
    ),
    (
        "expiry",
        {"points_expiring": 1200, "expires_on": "2027-01-15"},
        {"ja": ["1,200ポイント", "2027年1月15日"], "en": ["1,200", "January 15, 2027"]},
        [],
    ),
    (
        "survey",
        {"survey_url": "https://surveys.example.com/q/1"},
        {"ja": ["https://surveys.example.com/q/1"], "en": ["https://surveys.example.com/q/1"]},
        ["https://surveys.example.com/q/1"],
    ),
    (
        "nps",
        {"survey_url": "https://surveys.example.com/nps?o=A-77&s=1", "order_id": "A-77"},
        {
            "ja": [
                "A-77",
                "0（まったく思わない）",
                "10（強くすすめたい）",
                "https://surveys.example.com/nps?o=A-77&s=1",
            ],
            "en": ["A-77", "0 (not at all likely)", "10 (extremely likely)", "recommend"],
        },
        ["https://surveys.example.com/nps?o=A-77&s=1"],
    ),
    (
        # the thank-you after an NPS answer: a promoter is invited to review and to refer
        "feedback",
        {
            "group": "promoter",
            "review_url": "https://shop.example.com/r/sencha",
            "referral_url": "https://shop.example.com/refer",
        },
        {
            "ja": ["レビュー", "https://shop.example.com/refer"],
            "en": ["review", "https://shop.example.com/refer"],
        },
        ["https://shop.example.com/r/sencha", "https://shop.example.com/refer"],
    ),
    *[
        (
            campaign,
            {"products": PRODUCTS},
            {locale: ["Kyusu teapot", "¥1,200", "Tea caddy", "$19.99"] for locale in LOCALES},
            ["https://shop.example.com/p/kyusu", "https://shop.example.com/p/caddy"],
        )
        for campaign in ("crosssell", "upsell", "browse")
    ],
    (
        "cart",
        {
            "items": [
                {"name": "Sencha", "quantity": 3, "price": 1200, "currency": "JPY"},
                {"name": "Strainer", "quantity": 1, "price": 800, "currency": "JPY"},
            ],
            "cart_url": "https://shop.example.com/cart/restore/xyz",
        },
        {locale: ["Sencha", "¥1,200 × 3", "Strainer", "¥800"] for locale in LOCALES},
        ["https://shop.example.com/cart/restore/xyz"],
    ),
    ("welcome", {"code": "WELCOME10"}, {locale: ["WELCOME10"] for locale in LOCALES}, []),
    (
        "invite",
        {"referral_url": "https://shop.example.com/r/EMMA", "reward": "¥500 credit"},
        {locale: ["¥500 credit", "https://shop.example.com/r/EMMA"] for locale in LOCALES},
        ["https://shop.example.com/r/EMMA"],
    ),
]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize(("campaign", "data", "shows", "links"), DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_the_data_keys_are_used(
    campaign: str, data: dict[str, Any], shows: dict[str, list[str]], links: list[str], locale: str
) -> None:
    context = {**_minimal(campaign, locale), **data}
    rendered = render(campaign, locale, context)
    parsed = _check(rendered, context)
    for expected in shows[locale]:
        assert expected in rendered.text, expected
        assert str(escape(expected)) in rendered.html, expected
    for link in links:
        assert link in parsed.hrefs
        assert link in rendered.text
    if campaign in LINK_KEYS:
        # the link given in the data is the target of the button, in place of the shop's
        assert context["cta_url"] not in parsed.hrefs
        assert f": {data[LINK_KEYS[campaign]]}\n" in rendered.text


def test_the_data_keys_change_the_subject() -> None:
    subject = {
        (campaign, locale): render(campaign, locale, {**_minimal(campaign, locale), **data}).subject
        for campaign, data, _, _ in DATA_CASES
        for locale in LOCALES
    }
    assert "1,500" in subject["reward", "ja"] and "1,500" in subject["reward", "en"]
    assert "12" in subject["milestone", "ja"] and "12th" in subject["milestone", "en"]
    assert "ゴールド" in subject["tier", "ja"] and "Gold" in subject["tier", "en"]
    assert "ありがとう" in subject["feedback", "ja"] and "Thank you" in subject["feedback", "en"]
    assert "1,200" in subject["expiry", "ja"] and "1,200" in subject["expiry", "en"]


# -- previews and the command line --------------------------------------------------------------


def test_sample_contexts_are_per_locale() -> None:
    ja, en = sample_context("cart", "ja"), sample_context("cart", "en")
    assert ja["contact"]["name"] == "山田 花子" and ja["shop"]["name"] == "茶の間"
    assert en["contact"]["name"] == "Emma Wilson" and en["shop"]["name"] == "Chanoma Tea"
    for context in (ja, en):
        assert "Tokyo" in context["shop"]["postal_address"] or "東京都" in context["shop"]["postal_address"]
        assert context["cta_url"].startswith("https://shop.example.com/")
        assert all(item["currency"] == "JPY" for item in context["items"])
    assert sample_context("cart", "ja") is not sample_context("cart", "ja")


def test_preview_text_and_html() -> None:
    text = preview("reward", "ja", "text")
    assert text.startswith("Subject: 【茶の間】")
    assert "\n\n山田 花子 様" in text
    html = preview("reward", "en", "html")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert preview("winback", "en", "text", step=4) != preview("winback", "en", "text", step=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope", "ja", "text"), "valid campaigns: winback, reward"),
        (("reward", "fr", "text"), "valid locales: ja, en"),
        (("reward", "ja", "pdf"), "valid formats: text, html"),
    ],
)
def test_preview_refuses_unknown_values(args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        preview(*args)
    if args[2] == "text":
        with pytest.raises(ValueError, match=message):
            sample_context(args[0], args[1])


def test_cli_preview(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "preview", "reward", "--locale", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: ")
    assert "Hi Emma," in out

    assert main(["templates", "preview", "cart"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: 【茶の間】") and "¥1,200 × 2" in out

    assert main(["templates", "preview", "winback", "--locale", "en", "--step", "3", "--html"]) == 0
    out = capsys.readouterr().out
    assert '<html lang="en">' in out and "Subject:" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["templates", "preview", "nope"], "unknown campaign 'nope'"),
        (["templates", "preview", "reward", "--locale", "fr"], "unknown locale 'fr'"),
    ],
)
def test_cli_preview_refuses_unknown_values(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["templates", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["campaign", *LOCALES]
    assert [line.split()[0] for line in lines[1:]] == list(CAMPAIGNS)
    assert all(line.split()[1:] == ["yes", "yes"] for line in lines[1:])


def test_cli_as_a_module() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "comeback.cli", "templates", "preview", "reward", "--locale", "en"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Subject: ")
    bad = subprocess.run(
        [sys.executable, "-m", "comeback.cli", "templates", "preview", "nope"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "valid campaigns" in bad.stderr
