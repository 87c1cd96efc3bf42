import json

import pytest

from comeback.aws.bus import MAX_CALL_BYTES, BusEntry, EventBridgePublisher, PublishError, chunks


def entry(i, size=10):
    return BusEntry("comeback.ingest", "order.placed", {"i": i, "pad": "x" * size})


def test_calls_hold_at_most_10_entries_and_256_kb():
    encoded = [entry(i).encoded("bus") for i in range(25)]
    assert [len(c) for c in chunks(encoded)] == [10, 10, 5]
    big = [entry(i, size=100_000).encoded("bus") for i in range(5)]
    calls = chunks(big)
    assert [len(c) for c in calls] == [2, 2, 1]
    assert all(sum(len(e["Detail"]) for e in c) <= MAX_CALL_BYTES for c in calls)


class FlakyEvents:
    """PutEvents that refuses chosen entries a given number of times (per-entry ErrorCode)."""

    class exceptions:
        ClientError = RuntimeError

    def __init__(self, refusals):
        self.refusals = dict(refusals)
        self.calls = []

    def put_events(self, Entries):
        self.calls.append([json.loads(e["Detail"])["i"] for e in Entries])
        results = []
        for e in Entries:
            i = json.loads(e["Detail"])["i"]
            if self.refusals.get(i, 0) > 0:
                self.refusals[i] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": f"id-{i}"})
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_only_refused_entries_are_retried_until_they_pass():
    events = FlakyEvents({3: 2, 7: 1})
    EventBridgePublisher(events, "bus", sleep=lambda s: None).publish([entry(i) for i in range(10)])
    assert events.calls == [list(range(10)), [3, 7], [3]]


def test_entries_still_refused_after_the_last_attempt_raise():
    events = FlakyEvents({5: 99})
    with pytest.raises(PublishError) as error:
        EventBridgePublisher(events, "bus", attempts=3, sleep=lambda s: None).publish(
            [entry(i) for i in range(12)]
        )
    assert error.value.failed == 1 and error.value.codes == {"InternalFailure"}
