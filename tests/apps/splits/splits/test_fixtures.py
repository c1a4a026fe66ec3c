"""The user a preview without a `user` query parameter is shown as (not a test module)."""

PREVIEW_USER = "preview"
