from {{module}}.functions import hourly, nightly

from portable_fn.testing import invoke, make_event


def test_the_hourly_run_completes():
    assert invoke(hourly, make_event({"scheduled_time": "2030-01-01T10:00:00Z"})).outcome == "ack"


def test_the_nightly_run_completes():
    assert invoke(nightly, make_event({"scheduled_time": "2030-01-01T03:00:00Z"})).outcome == "ack"
