"""A test recipe: one message `after_days` after a contact's first order, beside the shipped recipes.

It proves that a recipe is one module with a `RECIPE`, its playbook section and its templates, and
that two recipes due at different times for one contact each fire at their own time (the engine
keeps one due time per contact: the earliest).

To enable it (unit tests, the local runtime, the e2e tests):

1. register the module: ``COMEBACK_EXTRA_RECIPES=tests.recipes.probe`` in the environment of every
   process that loads recipes (a subprocess, the local runtime); in this process, ``with
   probe.registered():`` sets it and clears ``comeback.recipes.registry._load`` before and after;
2. turn it on in the shop's playbook, with its templates, which ship nowhere else::

       from tests.recipes import probe
       playbook.load(probe.playbook(after_days=30))
       # = {"probe": {"enabled": True, "after_days": 30}, "messaging": {"templates": probe.TEMPLATES}}

Registered but absent from a playbook, it is off (`enabled` defaults to false), so registering it
changes nothing for tests that do not ask for it.

What an event means to it: an order arms it (the slow path writes `phase: armed` the first time,
so that the fast path can afterwards keep its due time with `requires`); its due time is the first
order + `after_days`; when due it asks one message (campaign `probe`, step 1, period the day of the
first order) and is done for good (`phase: done`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field

from comeback.domain.clock import parse_iso
from comeback.domain.events import ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.recipes import registry
from comeback.recipes.base import KEEP, Ask, Decision, FastEffect, Recipe, RecipeSettings, state_of

NAME = "probe"


class ProbeSettings(RecipeSettings):
    enabled: bool = False  # registered for a test, on only where its playbook says so
    after_days: Annotated[int, Field(gt=0, le=3650)] = 30


def settings(playbook: Playbook) -> ProbeSettings:
    section = playbook.section(NAME)
    assert isinstance(section, ProbeSettings)
    return section


class ProbeRecipe(Recipe):
    name: ClassVar[str] = NAME
    topic = "news"
    priority = 5
    section_key = NAME
    settings_model = ProbeSettings

    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if event.type != "order.placed":
            return FastEffect(due=KEEP)
        # A later order leaves the first order, so the due time, as it is; whether this order is the
        # first one only the stored state knows: until an order armed it, the slow path decides.
        return FastEffect(due=KEEP, requires={"phase": ("armed", "done")})

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        if event.type != "order.placed" or state_of(after, NAME).get("phase") in ("armed", "done"):
            return Decision()
        return Decision(state={"phase": "armed", "first_order_at": after.first_order_at})

    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        if profile.erased_at or profile.merged_into or not profile.first_order_at:
            return None
        if state_of(profile, NAME).get("phase") == "done":
            return None
        return parse_iso(profile.first_order_at) + timedelta(days=settings(playbook).after_days)

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        due = self.next_due(profile, playbook)
        if due is None or due > now or not profile.first_order_at:
            return Decision()
        state = {"phase": "done", "first_order_at": profile.first_order_at}
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            return Decision(state=state, skipped=(blocked,))
        message = MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=NAME,
            step=1,
            period=profile.first_order_at[:10],
            requested_at=now,
            not_after=due + timedelta(days=7),
            data={"after_days": settings(playbook).after_days},
            topic_of=self.topic,
            priority_of=self.priority,
        )
        return Decision(state=state, asks=(Ask(message),))

    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        return {"after_days": settings(playbook).after_days}


RECIPE = ProbeRecipe()

_TXT = """{% extends "_layout.txt.j2" %}
{% block subject %}__SUBJECT__{% endblock %}
{% block content %}
__GREETING__

__BODY__
{% endblock %}
{% block cta %}__CTA__{% endblock %}
{% block footer %}__FOOTER__{% endblock %}
{% block unsubscribe_label %}__UNSUBSCRIBE__{% endblock %}
"""

_HTML = """{% extends "_layout.html.j2" %}
{% block preheader %}__SUBJECT__{% endblock %}
{% block content %}
<p>__GREETING__</p>
<p>__BODY__</p>
{% endblock %}
{% block cta %}__CTA__{% endblock %}
{% block footer %}__FOOTER__{% endblock %}
{% block unsubscribe_label %}__UNSUBSCRIBE__{% endblock %}
"""

_COPY = {
    "en": {
        "__SUBJECT__": "Probe: {{ after_days | default(0) }} days since your first order",
        "__GREETING__": 'Hi {{ contact.first_name or "there" }},',
        "__BODY__": "This is the probe recipe's message, {{ after_days | default(0) }} days after your first "
        "order at {{ shop.name }}.",
        "__CTA__": "Visit the shop",
        "__FOOTER__": "A test message of {{ shop.name }}.",
        "__UNSUBSCRIBE__": "Unsubscribe or change your preferences",
    },
    "ja": {
        "__SUBJECT__": "プローブ: 初回のご注文から{{ after_days | default(0) }}日",
        "__GREETING__": "{{ contact.first_name or 'お客' }}様",
        "__BODY__": "{{ shop.name }}での初回のご注文から{{ after_days | default(0) }}日が経ちました"
        "(プローブ・レシピのテストメールです)。",
        "__CTA__": "ショップへ",
        "__FOOTER__": "{{ shop.name }}のテストメールです。",
        "__UNSUBSCRIBE__": "配信停止・設定の変更",
    },
}


def _fill(source: str, words: dict[str, str]) -> str:
    for marker, text in words.items():
        source = source.replace(marker, text)
    return source


# The shop templates (`messaging.templates` of a playbook) the probe's messages render with.
TEMPLATES: dict[str, str] = {
    f"{locale}/{NAME}.{kind}.j2": _fill(source, words)
    for locale, words in _COPY.items()
    for kind, source in (("txt", _TXT), ("html", _HTML))
}


def playbook(after_days: int = 30) -> dict[str, Any]:
    """A playbook document (for `comeback.domain.playbook.load`) with the probe on and its templates."""
    return {NAME: {"enabled": True, "after_days": after_days}, "messaging": {"templates": dict(TEMPLATES)}}


@contextmanager
def registered() -> Iterator[None]:
    """The probe in the registry for the block's duration (this process only), then gone again."""
    previous = os.environ.get(registry.EXTRA_ENV)
    os.environ[registry.EXTRA_ENV] = ",".join(n for n in (previous, __name__) if n)
    registry._load.cache_clear()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(registry.EXTRA_ENV, None)
        else:
            os.environ[registry.EXTRA_ENV] = previous
        registry._load.cache_clear()
