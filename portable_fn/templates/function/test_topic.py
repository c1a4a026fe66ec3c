from {{module}} import {{function}}

from portable_fn.testing import invoke, make_event


def test_{{function}}_acknowledges_a_message():
    assert invoke({{function}}, make_event({"id": "1"})).outcome == "ack"
