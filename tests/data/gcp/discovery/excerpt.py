"""Regenerate the Discovery document excerpts in this folder from the google-api-python-client wheel.

    python tests/data/gcp/discovery/excerpt.py [path/to/google_api_python_client-X-py3-none-any.whl]

Without a path, the wheel of `VERSION` is fetched with `pip download --no-deps`. For each API that
`portable_fn_gcp.deploy` calls (at the version its client calls), the methods the fake in
tests/providers/gcp/deploy/google_api.py serves are kept with every schema they reach (request,
response, and each `$ref` inside those, transitively), each copied unmodified, plus the document's
identity (id, revision, rootUrl, servicePath) and its standard query parameters. The file says where it
came from under "x-portable-fn-source".
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

VERSION = "2.202.0"
HERE = Path(__file__).resolve().parent
DOCUMENTS = "googleapiclient/discovery_cache/documents"
LICENCE = "Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0); Copyright Google LLC"
# document -> the method ids kept (what deploy's clients call, and the fake serves)
METHODS = {
    "cloudfunctions.v2": [
        "cloudfunctions.projects.locations.functions.generateUploadUrl",
        "cloudfunctions.projects.locations.functions.create",
        "cloudfunctions.projects.locations.functions.list",
        "cloudfunctions.projects.locations.functions.get",
        "cloudfunctions.projects.locations.functions.patch",
        "cloudfunctions.projects.locations.functions.delete",
        "cloudfunctions.projects.locations.operations.get",
    ],
    "pubsub.v1": [
        "pubsub.projects.topics.create",
        "pubsub.projects.topics.patch",
        "pubsub.projects.topics.get",
        "pubsub.projects.topics.delete",
        "pubsub.projects.topics.list",
        "pubsub.projects.topics.getIamPolicy",
        "pubsub.projects.topics.setIamPolicy",
        "pubsub.projects.topics.subscriptions.list",
        "pubsub.projects.subscriptions.create",
        "pubsub.projects.subscriptions.delete",
        "pubsub.projects.subscriptions.get",
        "pubsub.projects.subscriptions.patch",
        "pubsub.projects.subscriptions.getIamPolicy",
        "pubsub.projects.subscriptions.setIamPolicy",
    ],
    "cloudscheduler.v1": [
        "cloudscheduler.projects.locations.jobs.create",
        "cloudscheduler.projects.locations.jobs.list",
        "cloudscheduler.projects.locations.jobs.get",
        "cloudscheduler.projects.locations.jobs.patch",
        "cloudscheduler.projects.locations.jobs.delete",
    ],
    "run.v2": ["run.projects.locations.services.getIamPolicy", "run.projects.locations.services.setIamPolicy"],
    "cloudresourcemanager.v3": [
        "cloudresourcemanager.projects.getIamPolicy",
        "cloudresourcemanager.projects.setIamPolicy",
    ],
    "eventarc.v1": ["eventarc.projects.locations.triggers.get"],
    "firestore.v1": [
        "firestore.projects.databases.create",
        "firestore.projects.databases.get",
        "firestore.projects.databases.list",
        "firestore.projects.databases.delete",
        "firestore.projects.databases.collectionGroups.fields.get",
        "firestore.projects.databases.collectionGroups.fields.patch",
        "firestore.projects.databases.documents.listDocuments",
        "firestore.projects.databases.operations.get",
    ],
    "cloudtasks.v2": [
        "cloudtasks.projects.locations.queues.create",
        "cloudtasks.projects.locations.queues.get",
        "cloudtasks.projects.locations.queues.delete",
        "cloudtasks.projects.locations.queues.getIamPolicy",
        "cloudtasks.projects.locations.queues.setIamPolicy",
        "cloudtasks.projects.locations.queues.tasks.create",
    ],
    "iam.v1": [
        "iam.projects.serviceAccounts.getIamPolicy",
        "iam.projects.serviceAccounts.setIamPolicy",
        "iam.projects.serviceAccounts.create",
        "iam.projects.serviceAccounts.get",
        "iam.projects.serviceAccounts.list",
        "iam.projects.serviceAccounts.delete",
    ],
    "secretmanager.v1": [
        "secretmanager.projects.secrets.create",
        "secretmanager.projects.secrets.get",
        "secretmanager.projects.secrets.list",
        "secretmanager.projects.secrets.patch",
        "secretmanager.projects.secrets.delete",
        "secretmanager.projects.secrets.addVersion",
        "secretmanager.projects.secrets.getIamPolicy",
        "secretmanager.projects.secrets.setIamPolicy",
        "secretmanager.projects.secrets.versions.access",
        "secretmanager.projects.secrets.versions.get",
        "secretmanager.projects.secrets.versions.disable",
    ],
    "storage.v1": [
        "storage.buckets.insert",
        "storage.buckets.list",
        "storage.buckets.get",
        "storage.buckets.patch",
        "storage.buckets.delete",
        "storage.buckets.getIamPolicy",
        "storage.buckets.setIamPolicy",
        "storage.projects.serviceAccount.get",
    ],
}


def main(argv: list[str]) -> None:
    wheel = Path(argv[0]) if argv else download()
    with zipfile.ZipFile(wheel) as archive:
        for name, wanted in METHODS.items():
            document = json.loads(archive.read(f"{DOCUMENTS}/{name}.json"))
            out = excerpt(document, wanted, name)
            (HERE / f"{name}.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            print(f"{name}.json: {len(wanted)} methods, {len(out['schemas'])} schemas")


def download() -> Path:
    target = Path(tempfile.mkdtemp())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            "-d",
            str(target),
            f"google-api-python-client=={VERSION}",
        ],
        check=True,
    )
    return next(target.glob("*.whl"))


def excerpt(document: dict[str, Any], wanted: list[str], name: str) -> dict[str, Any]:
    resources = prune(document.get("resources", {}), set(wanted))
    found = sorted(method["id"] for method in methods(resources))
    if found != sorted(wanted):
        raise SystemExit(f"{name}: no method {sorted(set(wanted) - set(found))} in the document")
    schemas = reached(
        document["schemas"], [m[k]["$ref"] for m in methods(resources) for k in ("request", "response") if k in m]
    )
    kept = {k: document[k] for k in ("id", "name", "version", "revision", "rootUrl", "servicePath", "parameters")}
    return {
        **kept,
        "resources": resources,
        "schemas": {ref: document["schemas"][ref] for ref in sorted(schemas)},
        "x-portable-fn-source": {
            "distribution": f"google-api-python-client {VERSION} (PyPI wheel)",
            "file": f"{DOCUMENTS}/{name}.json",
            "revision": document["revision"],
            "licence": LICENCE,
            "repository": "https://github.com/googleapis/google-api-python-client",
            "excerpt": f"the methods {', '.join(wanted)} and every schema they reach, each copied unmodified; "
            "regenerated by excerpt.py beside this file; used by tests/providers/gcp/deploy/"
            "discovery.py (what the fake google_api.py serves and answers)",
        },
    }


def prune(resources: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    """The resource tree with only the wanted methods (and the resources that hold them)."""
    out: dict[str, Any] = {}
    for key, resource in resources.items():
        kept: dict[str, Any] = {}
        chosen = {k: m for k, m in resource.get("methods", {}).items() if m["id"] in wanted}
        if chosen:
            kept["methods"] = chosen
        inner = prune(resource.get("resources", {}), wanted)
        if inner:
            kept["resources"] = inner
        if kept:
            out[key] = kept
    return out


def methods(resources: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for resource in resources.values():
        found += list(resource.get("methods", {}).values()) + methods(resource.get("resources", {}))
    return found


def reached(schemas: dict[str, Any], refs: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(refs)
    while todo:
        ref = todo.pop()
        if ref not in seen:
            seen.add(ref)
            todo += refs_in(schemas[ref])
    return seen


def refs_in(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs_in(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs_in(v)]
    return []


if __name__ == "__main__":
    main(sys.argv[1:])
