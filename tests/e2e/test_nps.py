"""NPS over HTTP against `comeback local serve`: the ask after a second order, a one-click score
followed from the email's HTML, a forged link that changes nothing, the comment form, the thank-you
with an apology code, the detractor's task (once, on the team's email, SNS and `comeback tasks list`)
and `comeback tasks done` closing it."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import comeback
from tests.e2e.test_recipes import at_day, day, mail, person, send, serve, sweep
from tests.support import order, shop_event

pytestmark = pytest.mark.e2e

TEAM = "team@shop.example.com"
PLAYBOOK = {
    "shop": {"team_email": TEAM},
    "nps": {"enabled": True, "apology_offer": {"type": "amount_off", "value_minor": 500, "valid_days": 30}},
}


def fetch(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if form is not None else "GET")
    if form is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def tasks(base: str, *args: str) -> Any:
    answer = comeback("tasks", *args, "--local", base, "--format", "json")
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def test_a_detractors_click_opens_one_task_for_the_team_until_it_is_done(tmp_path: Path) -> None:
    with serve(tmp_path, {"demo": PLAYBOOK}) as local:
        hana = person("hana")
        profile = {"first_name": "Hana", "locale": "en", "accepts_marketing": True}
        send(local, [shop_event("customer.updated", id="u-hana", occurred_at=at_day(0).isoformat(),
                                customer=hana, data=profile),
                     order("o-hana-1", at_day(0).isoformat(), hana),
                     order("o-hana-2", at_day(1).isoformat(), hana)])  # fmt: skip
        day(local, 15)  # 14 days after the second order
        sweep(local)
        (ask,) = [e for e in mail(local, "hana") if e["campaign"] == "nps"]
        links = re.findall(r'href="([^"]*/v1/score/[^"]+)"', ask["html"])
        assert len(links) == 11 and all(link in ask["text"] for link in links)

        # a forged link (another signature) and an altered one (another score, same signature)
        token = links[3].rpartition("/")[2]
        body, _, mac = token.partition(".")
        forged = links[3].replace(mac, mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB"))
        altered = links[3].replace(body, links[10].rpartition("/")[2].partition(".")[0])
        for bad in (forged, altered):
            status, page = fetch(bad)
            assert status == 404 and "<form" not in page

        status, page = fetch(links[3])  # one click: score 3
        assert status == 200 and "3 / 10" in page and "<form" in page
        assert fetch(links[9])[0] == 200  # a second click on the same email: the first score stands
        status, page = fetch(links[3], {"comment": "The parcel was a week late"})
        assert status == 200 and "comment" in page
        assert local.post("/_local/drain")["drained"] is True

        day(local, 15, hours=2)  # the answer settled (30 minutes for the comment)
        sweep(local)
        sweep(local)  # a second sweep opens nothing twice
        (thanks,) = [e for e in mail(local, "hana") if e["campaign"] == "feedback"]
        assert thanks["step"] == 1 and "sorry" in thanks["text"]
        assert re.search(r"off your next order: \S+", thanks["text"]), thanks["text"]

        (task,) = tasks(local.base, "list")["tasks"]
        assert (task["score"], task["comment"], task["status"]) == (3, "The parcel was a week late", "open")
        assert (task["summary"]["orders_count"], task["customer_id"]) == (2, "hana")
        team = [e for e in local.get("/_local/outbox") if e["to"] == TEAM]
        assert len(team) == 1 and task["task_id"] in team[0]["text"] and "week late" in team[0]["text"]
        calls = local.get("/_local/aws-calls")["calls"]
        assert any("sns:Publish" in json.dumps(call) for call in calls)

        table = comeback("tasks", "list", "--local", local.base)
        assert table.returncode == 0 and task["task_id"] in table.stdout and "hana" in table.stdout

        done = comeback("tasks", "done", task["task_id"], "--local", local.base)
        assert done.returncode == 0, done.stderr
        assert tasks(local.base, "list")["tasks"] == []
        (closed,) = tasks(local.base, "list", "--status", "all")["tasks"]
        assert (closed["status"], closed["done_by"]) == ("done", "operator")
        unknown = comeback("tasks", "done", "task-nope", "--local", local.base)
        assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
