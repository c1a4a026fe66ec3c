"""An API whose callers are verified: JWTs at the edge or in the function, an API key, and secrets."""
