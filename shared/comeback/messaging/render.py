"""Rendering a message from its templates: Jinja2, sandboxed, HTML autoescaped, with a text part.

Templates live per locale (`templates/{locale}/{campaign}.html.j2` and `.txt.j2`, the text one
also defining the `subject` block). A shop may override any of them (its config carries the
sources); the shipped ones are the fallback. Shop-written templates run in Jinja's immutable
sandbox: they can read the values given to them and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from jinja2 import ChoiceLoader, DictLoader, PackageLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from comeback.domain.events import strip_bidi
from comeback.domain.money import format_money

LOCALES = ("ja", "en")


class RenderError(Exception):
    pass


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _environment(overrides: dict[str, str] | None = None) -> ImmutableSandboxedEnvironment:
    shipped = PackageLoader("comeback.messaging", "templates")
    loader = ChoiceLoader([DictLoader(overrides), shipped]) if overrides else shipped
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda minor, currency: format_money(int(minor), str(currency))
    return env


@cache
def _shipped() -> ImmutableSandboxedEnvironment:
    return _environment()


@lru_cache(maxsize=64)
def _with_overrides(overrides: tuple[tuple[str, str], ...]) -> ImmutableSandboxedEnvironment:
    # one environment per distinct set of shop templates: Jinja caches compiled templates in it
    return _environment(dict(overrides))


def check_template(source: str) -> None:
    """Raise RenderError if a shop-written template does not parse."""
    try:
        _shipped().parse(source)
    except TemplateError as exc:
        raise RenderError(str(exc)) from exc


def browser_locale(accept_language: str | None, default: str = "en") -> str:
    """The best of our locales for an `Accept-Language` header (`ja,en-US;q=0.9,en;q=0.8`)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        short = tag.strip().split("-")[0].lower()
        if short in LOCALES and quality > 0:
            ranked.append((-quality, position, short))
    return min(ranked)[2] if ranked else default


def locale_for(preferred: str | None, default: str) -> str:
    for candidate in (preferred, default):
        if candidate:
            short = candidate.replace("_", "-").split("-")[0].lower()
            if short in LOCALES:
                return short
    return "en"


def render(
    campaign: str, locale: str, context: dict[str, Any], overrides: dict[str, str] | None = None
) -> Rendered:
    env = _with_overrides(tuple(sorted(overrides.items()))) if overrides else _shipped()
    try:
        text_template = env.get_template(f"{locale}/{campaign}.txt.j2")
        html_template = env.get_template(f"{locale}/{campaign}.html.j2")
        text_context = text_template.new_context(dict(context))
        subject = "".join(text_template.blocks["subject"](text_context)).strip()
        text = text_template.render(context)
        html = html_template.render(context)
    except (TemplateError, KeyError, ValueError) as exc:  # ValueError: the money filter's bad currency
        raise RenderError(f"{locale}/{campaign}: {exc}") from exc
    # a subject is one line whatever a template or a profile field put in it, and reads in the order
    # it is written: names are cleaned at ingest, this also covers shop names and old profiles
    return Rendered(subject=" ".join(strip_bidi(subject).split()), text=text.strip() + "\n", html=html)


def page(name: str, locale: str, context: dict[str, Any]) -> str:
    """A web page of ours (the preference centre), from `templates/pages/{name}.{locale}.html.j2`."""
    try:
        return _shipped().get_template(f"pages/{name}.{locale}.html.j2").render(context)
    except TemplateError as exc:
        raise RenderError(f"pages/{name}.{locale}: {exc}") from exc
