"""{{name}}: functions run for the files of the `uploads` bucket. Run it with `portable-fn dev`."""

from __future__ import annotations

from portable_fn import CloudEvent, Context, DeadLetter, StorageObject, function, storage


@function(trigger=storage("uploads", on="created", prefix="in/"))
def on_upload(event: CloudEvent[StorageObject], ctx: Context) -> None:
    """A file arrived under in/: an empty one is dead-lettered, never retried."""
    upload = event.data
    if not upload.size:
        raise DeadLetter(f"{upload.key} is empty")
    ctx.logger.info("received %s (%s bytes)", upload.key, upload.size)


@function(trigger=storage("uploads", on="deleted", prefix="in/"))
def on_delete(event: CloudEvent[StorageObject], ctx: Context) -> None:
    ctx.logger.info("deleted %s", event.data.key)
