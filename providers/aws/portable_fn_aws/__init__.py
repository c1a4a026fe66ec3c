"""portable-fn on AWS Lambda.

Two halves that never mix (see DESIGN.md, "Layout"):

- the runtime shim, shipped inside every function zip: `shim` (the `lambda_handler`), `http_events`
  (API Gateway, Function URL and ALB <-> Request/Response) and `records` (SQS, SNS, S3, EventBridge,
  DynamoDB Streams, Kinesis -> CloudEvent). Standard library and `portable_fn.runtime` only.
- the provider, `provider.AwsProvider`, found through the `portable_fn.providers` entry point.

This file imports nothing, so importing the shim never pulls in the provider side.
"""
