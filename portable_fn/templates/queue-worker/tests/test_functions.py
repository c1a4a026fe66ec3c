from {{module}}.functions import work

from portable_fn.testing import invoke, make_event


def test_a_job_is_acknowledged():
    assert invoke(work, make_event({"id": "j-1", "items": 3})).outcome == "ack"


def test_a_job_without_items_is_dead_lettered():
    assert invoke(work, make_event({"id": "j-2", "items": 0})).outcome == "dead_letter"


def test_data_that_is_not_a_job_is_dead_lettered():
    assert invoke(work, make_event({"name": "not a job"})).outcome == "dead_letter"
