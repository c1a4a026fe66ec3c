"""The HCL renderer: what it writes reads back, through python-hcl2, as the document it was given."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portable_fn.export import render

from .hcl_roundtrip import parse, without_comments

DOCUMENT: dict[str, Any] = {
    "terraform": {"required_providers": [{"aws": {"source": "hashicorp/aws", "version": ">= 5.0"}}]},
    "provider": {"aws": {"region": "${var.region}"}},
    "variable": {"region": {"default": "eu-west-1", "description": 'Where the "shop" runs'}},
    "resource": {
        "aws_lambda_function": {
            "api": {
                "//": ["Not exported: the queue's delay.", "See the notes."],
                "function_name": "shop-dev-api",
                "memory_size": 256,
                "timeout": 2.5,
                "publish": False,
                "kms_key_arn": None,
                "role": "${aws_iam_role.api.arn}",
                "filename": "${path.module}/artifacts/shop.zip",
                "architectures": ["arm64"],
                "environment": [{"variables": {"A": "line\nbreak \\ $${literal}", "PORTABLE_FN_APP": "shop"}}],
                "tags": {"portable-fn:app": "shop", "team": "x"},
                "depends_on": ["${aws_cloudwatch_log_group.api}"],
            }
        },
        "aws_iam_role": {"api": {"name": "shop-dev-api", "assume_role_policy": '{"Version":"2012-10-17"}'}},
        "aws_iam_role_policy": {
            "api": {"policy": '{\n  "Resource": ["${aws_sqs_queue.orders.arn}", "a\\"b"]\n}\n', "name": "portable-fn"}
        },
    },
    "output": {"api_url": {"value": "${aws_lambda_function_url.api.function_url}"}},
}

EXPECTED_LAMBDA = """resource "aws_lambda_function" "api" {
  # Not exported: the queue's delay.
  # See the notes.
  function_name = "shop-dev-api"
  memory_size   = 256
  timeout       = 2.5
  publish       = false
  kms_key_arn   = null
  role          = aws_iam_role.api.arn
  filename      = "${path.module}/artifacts/shop.zip"
  architectures = ["arm64"]
  environment {
    variables = {
      A              = "line\\nbreak \\\\ $${literal}"
      PORTABLE_FN_APP = "shop"
    }
  }
  tags          = {
    "portable-fn:app" = "shop"
    team              = "x"
  }
  depends_on    = [aws_cloudwatch_log_group.api]
}"""


def test_the_rendered_document_parses_back_to_itself() -> None:
    assert parse(render(DOCUMENT)) == without_comments(DOCUMENT)


def test_references_are_bare_and_blocks_nest() -> None:
    text = render(DOCUMENT)
    assert EXPECTED_LAMBDA.replace("A              =", "A               =") in text
    assert 'provider "aws" {\n  region = var.region\n}' in text
    assert text.startswith('terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"')


def test_a_document_of_several_lines_is_a_heredoc() -> None:
    assert '  policy = <<EOT\n{\n  "Resource": ["${aws_sqs_queue.orders.arn}", "a\\"b"]\n}\nEOT\n' in render(DOCUMENT)


def test_an_unknown_top_level_block_is_refused() -> None:
    with pytest.raises(ValueError, match="Terraform has no top-level block 'resources'"):
        render({"resources": {}})


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from('\n\t\\"$%{}'))
KEYS = TEXT.filter(lambda s: s and "$" not in s and "%" not in s)  # map keys: tag keys, variable names
SAFE = TEXT.map(lambda s: s.replace("${", "$${").replace("%{", "%%{"))  # literal, as a document spells it
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | SAFE,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
ATTRIBUTES = VALUES.filter(lambda v: not (isinstance(v, list) and v and all(isinstance(i, dict) for i in v)))


# A list of maps in a block's body is a list of nested blocks (see `hcl`), so attributes are anything else.
@pytest.mark.slow  # python-hcl2 parses each generated body slowly
@settings(max_examples=25)  # python-hcl2 parses slowly
@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), ATTRIBUTES, min_size=1, max_size=5))
@example({"_": {"quoted key": [{"0": None}], "n": "line\n$${x}"}})
@example({"a": "two\\\nlines\n", "b": ["two\nlines\n"], "c": {"k": "a\nEOT\n"}})
def test_any_attribute_values_parse_back(body: dict[str, Any]) -> None:
    document = {"resource": {"aws_s3_bucket": {"b": body}}}
    assert parse(render(document)) == document
