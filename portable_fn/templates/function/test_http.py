from {{module}} import {{function}}

from portable_fn.testing import invoke, make_request


def test_{{function}}_answers():
    response = invoke({{function}}, make_request("GET", "/{{resource}}"))
    assert response.status == 200
    assert response.body == b'{"function":"{{function}}"}'
