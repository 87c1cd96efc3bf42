"""`comeback demo` is reproducible: the same seed gives the same summary, email for email."""

from __future__ import annotations

import contextlib
import io
import re

from comeback.demo.run import run_demo


def summary(seed: int) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert run_demo(seed=seed, customers=60, days=90) == 0
    text = out.getvalue()
    # what real time decides (wall time, the seconds a send took) is not the engine's doing
    text = re.sub(r"in \d+ s of wall time", "in N s of wall time", text)
    text = re.sub(r"^Wall time .*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"http://127\.0\.0\.1:\d+", "http://127.0.0.1:PORT", text)  # any free port
    return re.sub(r"sent \d{4}-\d\d-\d\dT[\d:.]+Z", "sent <time>", text)


def test_the_same_seed_gives_the_same_demo_twice():
    first, second = summary(11), summary(11)
    assert "Emails sent  0" not in first, first  # the run must exercise the sender to prove anything
    assert first == second
