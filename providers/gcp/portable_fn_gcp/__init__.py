"""portable-fn on Google Cloud Functions (2nd gen).

Two halves that never mix (see DESIGN.md, "Layout"):

- the runtime shim, shipped inside every source zip: `shim` (`generate_main(app)` writes the
  functions-framework `main.py`; the entry points it builds live in `shim` too) and `events`
  (Pub/Sub, Cloud Storage and Cloud Scheduler -> CloudEvent). Standard library and
  `portable_fn.runtime` only.
- the provider, `provider.GcpProvider`, found through the `portable_fn.providers` entry point.

This file imports nothing, so importing the shim never pulls in the provider side.
"""
