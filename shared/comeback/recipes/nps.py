"""NPS: "how likely are you to recommend us?" with one-click scores, and what each answer calls for.

**Who is asked, and when.** A repeat customer: `after_days` (14) after an order that brings the
contact to `min_orders` (2) or more, and at most once per `every_days` (180), and only for an order
placed since the last ask (nobody is asked twice about the same experience). The due time is
`max(last order + after_days, last ask + every_days)`; an ask that comes due more than
`stale_days` late (a sweep that did not run, a backfilled history) is passed over until the next
order. The email (campaign `nps`, step 1, period: the day asked) carries eleven signed one-click
links, 0 to 10 (`messaging.score_links`); a click records a `feedback.submitted` (survey `nps`,
score) through the ingest path, and the thank-you page offers a comment form.

**What an answer calls for** (`settle_minutes`, 30, after the score, so the comment the page offers
can come with it; the sweep carries it out):

- a thank-you email (campaign `feedback`, step 1, variant `detractor`, `passive` or `promoter`);
- a detractor (0-6): a follow-up task for the shop's team (`comeback.domain.tasks`), opened once,
  announced as `task.created` and sent to the team's address and the stack's SNS topic, with the
  customer's summary and comment; optionally an apology reward on the thank-you (`apology_offer`);
- a promoter (9-10): the thank-you invites a review (`review_url`) or a referral (`referral_url`);
- a comment: an "anything else we can do?" follow-up `follow_up_days` (7) later (step 2).

`feedback.responded` from the shop (naming the task, or the survey) closes the task; so does
`comeback tasks done`. Only the first score of an email counts (the event id is the email's); a
later comment of the same answer is added to it (and to its open task).

State (`Profile.recipes["nps"]`): `asked_at`, `basis` (the last order the latest ask answered or
passed over), `period`, and `answer` (`key`, `period`, `score`, `at`, `comment`, `comment_at`,
`thanked`, `task`, `followed`).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar

from pydantic import Field, HttpUrl

from comeback.domain.clock import isoformat, parse_iso
from comeback.domain.events import FeedbackResponded, FeedbackSubmitted, OrderPlaced, ShopEvent
from comeback.domain.messages import MessageRequest
from comeback.domain.playbook import Playbook
from comeback.domain.profile import Profile
from comeback.domain.reach import unreachable
from comeback.domain.rewards import Offer
from comeback.domain.tasks import Summary, Task, task_id
from comeback.recipes.base import (
    Ask,
    Decision,
    FastEffect,
    Recipe,
    RecipeSettings,
    TaskOp,
    in_holdout,
    reward_context,
    state_of,
)

NAME = "nps"
FEEDBACK = "feedback"
SURVEY = "nps"
# An answer older than this when it reaches us (an imported history) is recorded, and calls for nothing.
FRESH = timedelta(hours=48)
ARMED, WAITING = "armed", "waiting"
DETRACTOR_MAX = 6
PROMOTER_MIN = 9


class Nps(RecipeSettings):
    min_orders: Annotated[int, Field(ge=1, le=1000)] = 2
    after_days: Annotated[int, Field(ge=0, le=365)] = 14
    every_days: Annotated[int, Field(ge=1, le=3650)] = 180
    stale_days: Annotated[int, Field(ge=1, le=365)] = 14
    settle_minutes: Annotated[int, Field(ge=0, le=1440)] = 30
    holdout_percent: Annotated[float, Field(ge=0, le=50)] = 0
    # the thank-you email after an answer (campaign feedback, step 1)
    thank_you: bool = True
    # a follow-up task for the shop's team after a detractor's answer
    detractor_task: bool = True
    # an apology reward on a detractor's thank-you (a code in the email), e.g.
    # {type: amount_off, value_minor: 500, valid_days: 30}
    apology_offer: Offer | None = None
    # where a promoter's thank-you invites them: a review page, a referral page (both optional)
    review_url: HttpUrl | None = None
    referral_url: HttpUrl | None = None
    # "anything else we can do?" this many days after a comment (0: never)
    follow_up_days: Annotated[int, Field(ge=0, le=365)] = 7


def settings(playbook: Playbook) -> Nps:
    section = playbook.section(NAME)
    assert isinstance(section, Nps)
    return section


def group(score: int) -> str:
    """NPS's three groups: detractor (0-6), passive (7-8), promoter (9-10)."""
    if score <= DETRACTOR_MAX:
        return "detractor"
    return "promoter" if score >= PROMOTER_MIN else "passive"


def ask_due(profile: Profile, rules: Nps) -> datetime | None:
    """When the next NPS email is due (None: nobody to ask, or no order since the last ask)."""
    if profile.erased_at or profile.merged_into or not profile.last_order_at:
        return None
    if profile.orders_count < rules.min_orders:
        return None
    state = state_of(profile, NAME)
    if state.get("basis") == profile.last_order_at:
        return None  # this order was asked about (or passed over) already
    last = parse_iso(profile.last_order_at)
    due = last + timedelta(days=rules.after_days)
    asked = state.get("asked_at")
    if asked:
        if last <= parse_iso(asked):
            return None
        due = max(due, parse_iso(asked) + timedelta(days=rules.every_days))
    return due


def answer_due(profile: Profile, rules: Nps, state: dict[str, Any] | None = None) -> datetime | None:
    answer = (state_of(profile, NAME) if state is None else state).get("answer")
    if not answer:
        return None
    if not answer.get("thanked"):
        return parse_iso(answer["at"]) + timedelta(minutes=rules.settle_minutes)
    if rules.follow_up_days and answer.get("comment_at") and not answer.get("followed"):
        return parse_iso(answer["comment_at"]) + timedelta(days=rules.follow_up_days)
    return None


def phase(profile: Profile, state: dict[str, Any], rules: Nps) -> str:
    """`armed` when the next order alone makes the contact due `after_days` later (the fast path):
    one order short of `min_orders` or more, never asked, no answer pending. Else `waiting`."""
    if profile.erased_at or profile.merged_into or profile.orders_count < rules.min_orders - 1:
        return WAITING
    if state.get("asked_at") or answer_due(profile, rules, state) is not None:
        return WAITING
    return ARMED


def answer_key(event: FeedbackSubmitted) -> str:
    """Which ask an answer answers: the email its link came from, else the day (the shop's own survey)."""
    key = event.data.attributes.get("message_key")
    if isinstance(key, str) and key.startswith(f"{NAME}#"):
        return key
    return f"{NAME}#0#{isoformat(event.occurred_at)[:10]}"


def summary_of(profile: Profile) -> Summary:
    return Summary(
        orders_count=profile.orders_count,
        total_spent_minor=profile.total_spent_minor,
        currency=profile.currency,
        last_order_at=profile.last_order_at,
        first_order_at=profile.first_order_at,
    )


class NpsRecipe(Recipe):
    name: ClassVar[str] = NAME
    campaigns: ClassVar[tuple[str, ...]] = (FEEDBACK,)
    topic = "surveys"
    priority = 5
    section_key = NAME
    settings_model = Nps

    # -- events ----------------------------------------------------------------------------------
    def fast(self, event: ShopEvent, playbook: Playbook) -> FastEffect | None:
        if isinstance(event, OrderPlaced):
            # an armed contact (see `armed`) is due exactly `after_days` after this order; any other
            # (too few orders, asked before, an answer pending) takes the slow path
            due = event.occurred_at + timedelta(days=settings(playbook).after_days)
            return FastEffect(due=due, requires={"phase": (ARMED,)})
        if isinstance(event, FeedbackResponded):
            return None  # closes a task
        if isinstance(event, FeedbackSubmitted) and event.data.survey == SURVEY:
            return None
        return FastEffect()

    def on_event(
        self, before: Profile | None, after: Profile, event: ShopEvent, playbook: Playbook, now: datetime
    ) -> Decision:
        rules = settings(playbook)
        if isinstance(event, FeedbackSubmitted) and event.data.survey == SURVEY:
            decision = self._answered(after, event, now)
        elif isinstance(event, FeedbackResponded) and event.data.survey in (None, SURVEY):
            decision = self._responded(after, event)
        else:
            decision = Decision()
        state = state_of(after, NAME) if decision.state is None else decision.state
        phased = {**state, "phase": phase(after, state, rules)}
        if phased != state_of(after, NAME):
            return replace(decision, state=phased)
        return decision

    def _answered(self, profile: Profile, event: FeedbackSubmitted, now: datetime) -> Decision:
        state = state_of(profile, NAME)
        current = dict(state.get("answer") or {})
        key = answer_key(event)
        comment = (event.data.comment or "").strip() or None
        at = isoformat(event.occurred_at)
        if current.get("key") == key:
            # the same ask answered again: the first score stands; a first comment is added
            if not comment or current.get("comment"):
                return Decision()
            current.update({"comment": comment, "comment_at": at})
            ops: tuple[TaskOp, ...] = ()
            if current.get("task") and not current.get("closed"):
                ops = (TaskOp("comment", current["task"], comment=comment),)
            return Decision(state={**state, "answer": current}, tasks=ops)
        if event.data.score is None:
            return Decision()  # a comment without a score answers no ask we know
        answer: dict[str, Any] = {
            "key": key,
            "period": key.rpartition("#")[2],
            "score": event.data.score,
            "at": at,
            "comment": comment,
            "comment_at": at if comment else None,
        }
        if now - event.occurred_at > FRESH:
            # an old answer (a shop importing its history): on record, nothing to send or open
            answer.update({"thanked": True, "followed": True})
        return Decision(state={**state, "answer": answer})

    def _responded(self, profile: Profile, event: FeedbackResponded) -> Decision:
        state = state_of(profile, NAME)
        answer = dict(state.get("answer") or {})
        named = event.data.task_id
        if named and named != answer.get("task"):
            return Decision(tasks=(TaskOp("close", named, by=event.type),))  # an older answer's task
        if not answer.get("task") or answer.get("closed"):
            return Decision()
        answer["closed"] = True
        return Decision(
            state={**state, "answer": answer}, tasks=(TaskOp("close", answer["task"], by=event.type),)
        )

    # -- time ------------------------------------------------------------------------------------
    def next_due(self, profile: Profile, playbook: Playbook) -> datetime | None:
        rules = settings(playbook)
        times = [t for t in (ask_due(profile, rules), answer_due(profile, rules)) if t is not None]
        return min(times) if times else None

    def plan(self, profile: Profile, playbook: Playbook, now: datetime) -> Decision:
        rules = settings(playbook)
        state = state_of(profile, NAME)
        asks: list[Ask] = []
        tasks: list[TaskOp] = []
        skipped: list[str] = []
        due = answer_due(profile, rules)
        if due is not None and due <= now:
            answer = dict(state["answer"])
            if not answer.get("thanked"):
                self._thank(profile, playbook, rules, answer, now, asks, tasks, skipped)
                answer["thanked"] = True
            else:
                self._follow_up(profile, playbook, answer, now, asks, skipped)
                answer["followed"] = True
            state = {**state, "answer": answer}
        due = ask_due(profile, rules)
        if due is not None and due <= now:
            state = {**state, "basis": profile.last_order_at}
            blocked = unreachable(profile, self.topic, playbook)
            if now - due > timedelta(days=rules.stale_days):
                skipped.append("stale")
            elif blocked:
                skipped.append(blocked)
            else:
                period = isoformat(now)[:10]
                holdout = in_holdout(profile.shop_id, profile.contact_id, period, NAME, rules.holdout_percent)
                asks.append(Ask(self._message(profile, NAME, 1, period, now, rules.stale_days, holdout)))
                state.update({"asked_at": isoformat(now), "period": period})
        state = {**state, "phase": phase(profile, state, rules)}
        if state == state_of(profile, NAME):
            return Decision()
        return Decision(state=state, asks=tuple(asks), tasks=tuple(tasks), skipped=tuple(skipped))

    def _thank(
        self,
        profile: Profile,
        playbook: Playbook,
        rules: Nps,
        answer: dict[str, Any],
        now: datetime,
        asks: list[Ask],
        tasks: list[TaskOp],
        skipped: list[str],
    ) -> None:
        kind = group(int(answer["score"]))
        if kind == "detractor" and rules.detractor_task:
            opened = Task(
                task_id=task_id(profile.shop_id, profile.contact_id, SURVEY, answer["key"]),
                shop_id=profile.shop_id,
                contact_id=profile.contact_id,
                customer_id=profile.customer_id,
                survey=SURVEY,
                answer=answer["key"],
                score=int(answer["score"]),
                comment=answer.get("comment"),
                summary=summary_of(profile),
                created_at=now,
            )
            answer["task"] = opened.task_id
            tasks.append(TaskOp("open", opened.task_id, task=opened, email=profile.email_address))
        if not rules.thank_you:
            return
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            skipped.append(blocked)
            return
        message = self._message(profile, FEEDBACK, 1, answer["period"], now, 7, False, kind, answer)
        offer = rules.apology_offer if kind == "detractor" else None
        asks.append(Ask(message, offer))

    def _follow_up(
        self,
        profile: Profile,
        playbook: Playbook,
        answer: dict[str, Any],
        now: datetime,
        asks: list[Ask],
        skipped: list[str],
    ) -> None:
        blocked = unreachable(profile, self.topic, playbook)
        if blocked:
            skipped.append(blocked)
            return
        kind = group(int(answer["score"]))
        asks.append(Ask(self._message(profile, FEEDBACK, 2, answer["period"], now, 7, False, kind, answer)))

    def _message(
        self,
        profile: Profile,
        campaign: str,
        step: int,
        period: str,
        now: datetime,
        valid_days: int,
        holdout: bool,
        variant: str | None = None,
        answer: dict[str, Any] | None = None,
    ) -> MessageRequest:
        data: dict[str, Any] = {"ask_score": True} if campaign == NAME else {}
        if answer is not None:
            data.update({"score": int(answer["score"]), "commented": bool(answer.get("comment"))})
        return MessageRequest(
            shop_id=profile.shop_id,
            contact_id=profile.contact_id,
            campaign=campaign,
            step=step,
            period=period,
            requested_at=now,
            not_after=now + timedelta(days=valid_days),
            data=data,
            variant=variant,
            holdout=holdout,
            topic_of=self.topic,
            priority_of=self.priority,
        )

    # -- sending ---------------------------------------------------------------------------------
    def context(self, profile: Profile, request: MessageRequest, playbook: Playbook) -> dict[str, Any]:
        context = reward_context(request)
        if request.campaign == FEEDBACK:
            rules = settings(playbook)
            context.update(
                {
                    "group": request.variant or "passive",
                    "follow_up": request.step == 2,
                    "review_url": str(rules.review_url) if rules.review_url else None,
                    "referral_url": str(rules.referral_url) if rules.referral_url else None,
                }
            )
        return context


RECIPE = NpsRecipe()
