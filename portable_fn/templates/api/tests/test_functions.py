from {{module}}.functions import hello, work

from portable_fn.testing import invoke, make_event, make_request


def test_hello_greets_by_name():
    response = invoke(hello, make_request("GET", "/hello/ada"))
    assert response.status == 200
    assert response.body == b'{"hello":"ada"}'


def test_work_acknowledges_a_job():
    assert invoke(work, make_event({"job": 1})).outcome == "ack"


def test_work_dead_letters_data_that_is_not_an_object():
    assert invoke(work, make_event(["not", "an", "object"])).outcome == "dead_letter"
