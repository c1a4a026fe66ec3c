"""User code for the AWS adapter tests: real modules, imported the way an app's modules are.

`events.py` holds event-triggered functions, `web.py` HTTP functions. Each handler returns what it was
given, so a test reads it back from the `Result` (events) or the response body (HTTP).
"""
