"""Previews of the shipped message templates, rendered with realistic sample data.

`comeback templates preview CAMPAIGN` prints one; the tests render every campaign in every locale
with these samples. The context has the shape the sender builds (see `Sender._compose`): the
request's `data` keys at the top level next to `shop`, `contact`, `cta_url` and `unsubscribe_url`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, get_args

from comeback.domain.messages import Campaign
from comeback.messaging.render import LOCALES, render

CAMPAIGNS: tuple[str, ...] = get_args(Campaign)
FORMATS = ("text", "html")

_BASE_URL = "https://shop.example.com"

_SHOPS: dict[str, dict[str, str]] = {
    "ja": {"name": "茶の間", "postal_address": "〒150-0001 東京都渋谷区神宮前1-2-3 茶の間ビル2階"},
    "en": {
        "name": "Chanoma Tea",
        "postal_address": "2F Chanoma Bldg., 1-2-3 Jingumae, Shibuya-ku, Tokyo 150-0001, Japan",
    },
}

_CONTACTS: dict[str, dict[str, str]] = {
    "ja": {"first_name": "花子", "last_name": "山田", "name": "山田 花子", "referral": "HANAKO7F"},
    "en": {"first_name": "Emma", "last_name": "Wilson", "name": "Emma Wilson", "referral": "EMMA7F"},
}

# (slug, Japanese name, English name, price in yen)
_PRODUCTS: dict[str, list[tuple[str, str, str, int]]] = {
    "crosssell": [
        ("tokoname-kyusu", "常滑焼 急須 朱泥 300ml", "Tokoname clay teapot, 300 ml", 6800),
        ("copper-tea-caddy", "銅製 茶筒 200g用", "Copper tea caddy, 200 g", 4400),
        ("bamboo-tea-scoop", "竹の茶さじ", "Bamboo tea scoop", 880),
    ],
    "upsell": [
        ("gyokuro-premium", "玉露 極上 50g", "Premium gyokuro, 50 g", 3800),
        ("matcha-ceremonial", "抹茶 特選 40g 缶入り", "Ceremonial-grade matcha, 40 g tin", 4200),
    ],
    "browse": [
        ("hojicha-teabags", "ほうじ茶 ティーバッグ 20包", "Hojicha tea bags, pack of 20", 1200),
        ("seasonal-wagashi", "季節の和菓子詰め合わせ", "Seasonal wagashi assortment", 2400),
    ],
}

_CART: list[tuple[str, str, int, int]] = [
    ("煎茶 八十八夜 100g", "Hachijuhachiya sencha, 100 g", 2, 1200),
    ("竹の茶こし", "Bamboo tea strainer", 1, 800),
]


def _check(campaign: str, locale: str) -> None:
    if campaign not in CAMPAIGNS:
        raise ValueError(f"unknown campaign {campaign!r}; valid campaigns: {', '.join(CAMPAIGNS)}")
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}; valid locales: {', '.join(LOCALES)}")


def _data(campaign: str, locale: str) -> dict[str, Any]:
    ja = locale == "ja"
    if campaign in _PRODUCTS:
        return {
            "products": [
                {
                    "name": name_ja if ja else name_en,
                    "url": f"{_BASE_URL}/products/{slug}",
                    "price": price,
                    "currency": "JPY",
                }
                for slug, name_ja, name_en, price in _PRODUCTS[campaign]
            ]
        }
    samples: dict[str, dict[str, Any]] = {
        "reward": {
            "points": 500,
            "reward_name": "新茶の飲み比べセット" if ja else "New-season tea tasting set",
            "code": "THANKYOU500",
        },
        "milestone": {"orders_count": 10},
        "tier": {"tier": "gold", "previous_tier": "silver"},
        "birthday": {"code": "BIRTHDAY10", "discount": "10%"},
        "anniversary": {"years": 3},
        "expiry": {"points_expiring": 300, "expires_on": "2026-12-31"},
        "survey": {
            "survey_url": f"{_BASE_URL}/surveys/after-order?order=CH-10482",
            "order_id": "CH-10482",
            "ordered_on": "2026-11-24",
            "items": [
                {"name": "煎茶 八十八夜 100g" if ja else "Hachijuhachiya sencha", "quantity": 2},
                {"name": "急須" if ja else "Kyusu teapot", "quantity": 1},
            ],
        },
        "nps": {"survey_url": f"{_BASE_URL}/surveys/nps?order=CH-10482", "order_id": "CH-10482"},
        # the thank-you after an NPS answer: a promoter's invites a review (step 2: the follow-up)
        "feedback": {
            "group": "promoter",
            "score": 10,
            "commented": True,
            "review_url": f"{_BASE_URL}/products/sencha-hachijuhachiya/reviews/new",
        },
        "cart": {
            "items": [
                {"name": name_ja if ja else name_en, "quantity": quantity, "price": price, "currency": "JPY"}
                for name_ja, name_en, quantity, price in _CART
            ],
            "cart_url": f"{_BASE_URL}/cart?restore=7f3k9a",
        },
        "welcome": {"track": "subscriber", "code": "WELCOME10", "discount": "10%"},
        "invite": {
            "referral_url": f"{_BASE_URL}/r/{_CONTACTS[locale]['referral']}",
            "reward": "500ポイント" if ja else "500 points",
        },
    }
    return samples.get(campaign, {})


def sample_context(campaign: str, locale: str, step: int = 1) -> dict[str, Any]:
    """A rendering context like the sender's, for a sample customer of a sample tea shop."""
    _check(campaign, locale)
    person = _CONTACTS[locale]
    utm = f"utm_source=comeback&utm_medium=email&utm_campaign={campaign}"
    # the NPS recipe's context (recipes/nps.py): feedback step 2 is the "anything else?" follow-up
    own = {"follow_up": step == 2} if campaign == "feedback" else {}
    return {
        "days_since_last_activity": 62,
        **own,
        **_data(campaign, locale),
        "campaign": campaign,
        "step": step,
        "locale": locale,
        "shop": {**_SHOPS[locale], "url": _BASE_URL},
        "contact": {
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "name": person["name"],
            "points_balance": 1850,
            "tier": "gold" if campaign == "tier" else "silver",
        },
        "cta_url": f"{_BASE_URL}/?{utm}",
        "unsubscribe_url": f"{_BASE_URL}/unsubscribe/sample-token",
    }


def preview(campaign: str, locale: str, fmt: str = "text", step: int = 1) -> str:
    """The subject and text part ("text"), or the HTML part ("html"), rendered with the sample context."""
    _check(campaign, locale)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    if not 1 <= step <= 99:
        raise ValueError(f"step must be between 1 and 99, got {step}")
    rendered = render(campaign, locale, sample_context(campaign, locale, step))
    if fmt == "html":
        return rendered.html
    return f"Subject: {rendered.subject}\n\n{rendered.text}"


def available() -> dict[str, tuple[str, ...]]:
    """For each campaign, the locales that ship both its text and its HTML template."""
    root = resources.files("comeback.messaging") / "templates"
    return {
        campaign: tuple(
            locale
            for locale in LOCALES
            if (root / locale / f"{campaign}.txt.j2").is_file()
            and (root / locale / f"{campaign}.html.j2").is_file()
        )
        for campaign in CAMPAIGNS
    }
