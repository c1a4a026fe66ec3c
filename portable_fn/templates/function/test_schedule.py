from {{module}} import {{function}}

from portable_fn.testing import invoke, make_event


def test_{{function}}_runs():
    assert invoke({{function}}, make_event({"scheduled_time": "2030-01-01T10:00:00Z"})).outcome == "ack"
