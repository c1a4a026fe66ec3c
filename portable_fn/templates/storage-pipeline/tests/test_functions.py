from {{module}}.functions import on_delete, on_upload

from portable_fn.testing import invoke, make_event


def test_an_upload_is_acknowledged():
    assert invoke(on_upload, make_event({"bucket": "uploads", "key": "in/a.csv", "size": 12})).outcome == "ack"


def test_an_empty_upload_is_dead_lettered():
    assert invoke(on_upload, make_event({"bucket": "uploads", "key": "in/b.csv", "size": 0})).outcome == "dead_letter"


def test_a_deletion_is_acknowledged():
    assert invoke(on_delete, make_event({"bucket": "uploads", "key": "in/a.csv"})).outcome == "ack"
