"""The weights of each experiment's variants: the data of the A/B tests (not a test module)."""

WEIGHTS = {"checkout": {"one-page": 1, "two-page": 1}}
