"""The user's tags (`[tool.portable-fn] tags`, a stage's `tags` over them) on the resources a provider wants,
and read back from what it finds. Plain values, no I/O.

A taggable resource of a provider has a `tags` field (sorted key/value pairs: the user's tags only); each
provider's `desired` fills it (`with_tags`) after checking the tags against its cloud's rules (`TagRules`,
`checked`), its appliers put the user's tags beside portable-fn's own, and its remote reader keeps only the
user's (`user_tags`): portable-fn's own keys and the audit trail's (`AUDIT_PREFIX`, written outside any plan)
never take part in a comparison, so a deploy after an audit is a no-op. A changed tag is then an update of
the resources that carry it, like any other field.

Where a cloud tags key by key (AWS, Azure), a resource may also carry tags set outside deploy (by the
console, a policy, the platform): deploy leaves those alone. It knows the user's by a record it keeps beside
them (`TagRules.record`: the keys, space-separated, `managed`), so a tag dropped from the settings is taken off
and nobody else's is. Google sets a resource's labels all at once, so there deploy owns them all.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..config import AUDIT_TAG_PREFIX, RESERVED_TAG_PREFIXES
from ..runtime.errors import ConfigError
from .models import Resource

if TYPE_CHECKING:
    from ..config import AppConfig

Pairs = tuple[tuple[str, str], ...]
AUDIT_PREFIX = AUDIT_TAG_PREFIX


@dataclass(frozen=True)
class TagRules:
    """What one cloud accepts as a tag: `noun` ("tag", "label"); how many a resource takes beside portable-fn's
    own (`max_tags`); key and value lengths; the characters (`key_pattern`, `value_pattern`, matched in full;
    `allowed` says them in words); key prefixes the cloud keeps for itself."""

    provider: str
    noun: str
    max_tags: int
    max_key: int
    max_value: int
    key_pattern: re.Pattern[str]
    value_pattern: re.Pattern[str]
    allowed: str
    reserved: tuple[str, ...] = ()
    record: str = ""  # the tag listing the user's keys on each resource ('' : the cloud keeps none)

    def problem(self, key: str, value: str) -> str | None:
        """What is wrong with one tag on this cloud, or None."""
        if not 1 <= len(key) <= self.max_key:
            return f"its key must be 1 to {self.max_key} characters"
        if len(value) > self.max_value:
            return f"its value must be at most {self.max_value} characters"
        if not self.key_pattern.fullmatch(key) or not self.value_pattern.fullmatch(value):
            return self.allowed
        if key.lower().startswith(self.reserved):
            return f"keys starting with {' or '.join(repr(p) for p in self.reserved)} are the cloud's own"
        return None


def stage_tags(config: AppConfig, stage: str) -> dict[str, str]:
    """The app's tags with the stage's over them."""
    found = config.stages.get(stage)
    return {**config.tags, **(found.tags if found else {})}


def checked(config: AppConfig, stage: str, rules: TagRules) -> Pairs:
    """The stage's tags as sorted pairs, each checked against `rules`; the first that breaks them is a
    ConfigError naming it, the rule and where to change it."""
    tags = stage_tags(config, stage)
    if len(tags) > rules.max_tags:
        raise ConfigError(
            f"{len(tags)} tags are more than a {rules.provider} resource takes beside portable-fn's own "
            f"({rules.max_tags}): drop some under [tool.portable-fn] tags in pyproject.toml."
        )
    for key, value in sorted(tags.items()):
        if problem := rules.problem(key, value):
            raise ConfigError(
                f"Tag {key} = {value!r} is not a valid {rules.provider} {rules.noun}: {problem}. Change it under "
                f"[tool.portable-fn] tags (or [tool.portable-fn.stages.{stage}] tags) in pyproject.toml."
            )
    pairs = tuple(sorted(tags.items()))
    if rules.record and len(managed(pairs, rules.record).get(rules.record, "")) > rules.max_value:
        raise ConfigError(
            f"The keys of the tags under [tool.portable-fn] tags come to more than {rules.max_value} characters, "
            f"which {rules.provider} cannot record in one tag ({rules.record}): use fewer or shorter keys."
        )
    return pairs


def managed(tags: Pairs, record: str) -> dict[str, str]:
    """What deploy puts for the user's `tags` on a cloud that keeps the record `record`: them, and the record
    of their keys (nothing at all without tags, so an app without tags carries no record)."""
    if not tags:
        return {}
    return {**dict(tags), **({record: " ".join(k for k, _ in tags)} if record else {})}


def with_tags(resources: Sequence[Resource], tags: Pairs) -> list[Resource]:
    """`resources`, each that has a `tags` field carrying `tags`."""
    return [
        dataclasses.replace(r, tags=tags) if any(f.name == "tags" for f in dataclasses.fields(r)) else r  # type: ignore[call-arg]
        for r in resources
    ]


def user_tags(found: Mapping[str, str] | None, record: str = "") -> Pairs:
    """The user's tags among `found` (a resource's tags as the cloud answers): those the record `record` lists;
    without a record, every tag but portable-fn's own (keys starting with a reserved prefix: the audit
    trail's among them)."""
    tags = dict(found or {})
    if record:
        return tuple(sorted((k, tags[k]) for k in tags.get(record, "").split() if k in tags))
    return tuple(sorted((k, v) for k, v in tags.items() if not k.startswith(RESERVED_TAG_PREFIXES)))


def audit_tags(found: Mapping[str, str] | None) -> Pairs:
    """The audit trail's tags among `found`: what a cloud that replaces a resource's whole tag set at once
    (S3, Google's labels) must put back with the user's."""
    return tuple(sorted((k, v) for k, v in (found or {}).items() if k.startswith(AUDIT_PREFIX)))


def tag_changes(tags: Pairs, previous: Pairs, record: str = "") -> tuple[dict[str, str], list[str]]:
    """What turns `previous` into `tags` (with the record `record` of their keys): the tags to put and the keys
    to take off (the record's too, once no tag is left)."""
    now, before = managed(tags, record), managed(previous, record)
    return {k: v for k, v in now.items() if before.get(k) != v}, sorted(set(before) - set(now))
