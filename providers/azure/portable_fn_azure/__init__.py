"""portable-fn on Azure Functions (Python v2 programming model).

Two halves that never mix (see DESIGN.md, "Layout"):

- the runtime shim, shipped inside the package zip: `shim` (what the generated `function_app.py` calls),
  `http_adapter` (`HttpRequest` <-> Request/Response) and `events` (queue, Service Bus, Event Grid, blob
  and timer objects -> CloudEvent). Standard library and `portable_fn.runtime` only; the
  `azure.functions` module is handed in by the generated code, never imported here.
- the provider side: `codegen` (writes `function_app.py` and `host.json`), `provider.AzureProvider`
  (found through the `portable_fn.providers` entry point), `packaging` and `deploy/`.

This file imports nothing, so importing the shim never pulls in the provider side.
"""
