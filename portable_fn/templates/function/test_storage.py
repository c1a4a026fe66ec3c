from {{module}} import {{function}}

from portable_fn.testing import invoke, make_event


def test_{{function}}_acknowledges_a_new_file():
    event = make_event({"bucket": "uploads", "key": "report.csv", "size": 12})
    assert invoke({{function}}, event).outcome == "ack"
