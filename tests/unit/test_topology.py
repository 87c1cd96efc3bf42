from comeback.app.topology import TOPOLOGY, sender_concurrency
from comeback.local.lambdas import REPO_ROOT


def test_every_queue_has_a_consumer_and_a_visibility_of_six_timeouts():
    names = {f.name for f in TOPOLOGY.functions}
    for queue in TOPOLOGY.queues:
        assert queue.consumer in names
        assert TOPOLOGY.visibility_timeout(queue) >= 6 * TOPOLOGY.function(queue.consumer).timeout_seconds


def test_every_function_route_rule_and_schedule_points_at_something_real():
    for function in TOPOLOGY.functions:
        assert (REPO_ROOT / function.handler_path).is_file()
    queues = {q.name for q in TOPOLOGY.queues}
    assert all(rule.queue in queues for rule in TOPOLOGY.rules)
    names = {f.name for f in TOPOLOGY.functions}
    assert all(r.function in names for r in TOPOLOGY.routes)
    assert all(s.function in names for s in TOPOLOGY.schedules)


def test_sender_concurrency_follows_the_ses_rate_within_what_sqs_allows():
    assert sender_concurrency(1) == 2
    assert sender_concurrency(14) == 3
    assert sender_concurrency(200) == 40
    assert sender_concurrency(1_000_000) == 1000
