"""{{function}}: runs for each file created in the `uploads` bucket (a folder under `portable-fn dev`):
curl -X PUT --data-binary @README.md localhost:8080/_local/buckets/uploads/readme.md"""

from __future__ import annotations

from portable_fn import CloudEvent, Context, StorageObject, function, storage


@function(trigger=storage("uploads", on="created"))  # prefix="in/", suffix=".csv" to narrow it
def {{function}}(event: CloudEvent[StorageObject], ctx: Context) -> None:
    ctx.logger.info("%s arrived (%s bytes)", event.data.key, event.data.size)
