"""Resources an app declares and functions use: `orders = state("orders")`, then
`@function(..., uses=[orders.read()])`.

A resource is a plain object with a logical `name`, made at module level. A function says how it uses one
with a `Use` (`orders.read()`, `orders.write()`); deploy provisions every resource some function uses and
grants each function exactly the access its uses name; at run time, touching a resource the running
function did not declare is an error naming the fix, in `dev` as on every cloud.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import DeclarationError, PortableFnError
from .pipeline import current_call

READ = "read"
WRITE = "write"
ACCESS = (READ, WRITE)
_NAME = r"[a-z][a-z0-9-]{0,38}[a-z0-9]\Z"  # a name every cloud can build a physical name from
RESERVED_PREFIX = "pfn-"  # names portable-fn declares for itself (the idempotency store, breakers)


class UndeclaredResourceError(PortableFnError):
    """A function touched a resource its `uses=` does not declare (or declares read-only and wrote)."""


class Resource:
    """A declared resource: `kind` ("state", ...) and a logical `name`, unique per kind in an app."""

    kind = "resource"

    def __init__(self, name: str, *, internal: bool = False) -> None:
        if not isinstance(name, str) or not re.match(_NAME, name):
            raise DeclarationError(
                f"{self.kind}({name!r}): use 2 to 40 lower-case letters, digits or '-', starting with a letter "
                "and not ending with '-' (every cloud derives its physical name from it)."
            )
        if name.startswith(RESERVED_PREFIX) and not internal:
            raise DeclarationError(
                f"{self.kind}({name!r}): names starting with {RESERVED_PREFIX!r} are portable-fn's own."
            )
        self.name = name

    @property
    def name_in_code(self) -> str:
        """The name a user most likely gave it in code (for error messages)."""
        return self.name.replace("-", "_")

    def read(self) -> Use:
        """Declare read access (`uses=[orders.read()]`)."""
        return Use(self, READ)

    def write(self) -> Use:
        """Declare read and write access (`uses=[orders.write()]`)."""
        return Use(self, WRITE)

    def __repr__(self) -> str:
        return f"{self.kind}({self.name!r})"


class Use:
    """How one function uses one resource: `access` is "read" or "write" (write includes read)."""

    __slots__ = ("resource", "access")

    def __init__(self, resource: Resource, access: str) -> None:
        if access not in ACCESS:
            raise DeclarationError(f"{resource!r}: access {access!r} is not one of {ACCESS}.")
        self.resource = resource
        self.access = access

    @property
    def writes(self) -> bool:
        return self.access == WRITE

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Use) and (self.resource, self.access) == (other.resource, other.access)

    def __hash__(self) -> int:
        return hash((id(self.resource), self.access))

    def __repr__(self) -> str:
        return f"{self.resource!r}.{self.access}()"


def uses_of(fn_name: str, declared: Iterable[Any] | None) -> tuple[Use, ...]:
    """The `uses=` of a function as Uses: a bare resource means write access (what it needs to work)."""
    if declared is None:
        return ()
    if isinstance(declared, (str, bytes)) or not isinstance(declared, Iterable):
        raise DeclarationError(f"@function {fn_name!r}: uses={declared!r} must be a list such as [orders.read()].")
    found: dict[tuple[str, str], Use] = {}
    for item in declared:
        if hasattr(item, "as_uses"):  # a topic or queue (sending to it), a workflow (starting it), a secret
            given: Iterable[Any] = item.as_uses()
        elif isinstance(item, Resource):
            given = (item.write(),)
        else:
            given = (item,)
        for use in given:
            if not isinstance(use, Use):
                raise DeclarationError(
                    f"@function {fn_name!r}: uses= holds {item!r}; list declared resources or their access, such "
                    "as orders.read() or orders.write() for orders = state('orders'), or order_events.publish() "
                    "for order_events = topic('order-events')."
                )
            key = (use.resource.kind, use.resource.name)
            if key not in found or use.writes:
                found[key] = use
    return tuple(found.values())


def check_access(resource: Resource, access: str) -> None:
    """Inside an invocation, raise UndeclaredResourceError unless the running function declares `resource`
    with `access` (write includes read). Outside one (a script, a unit test calling the handler), allow."""
    call = current_call()
    if call is None:
        return
    spec = call.invocation.spec
    for use in spec.options.uses:
        if use.resource.kind == resource.kind and use.resource.name == resource.name:
            if access == READ or use.writes:
                return
            raise UndeclaredResourceError(
                f"Function {spec.name!r} declares {resource!r} read-only and tried to write it; "
                f"declare uses=[{resource.name_in_code}.write()]."
            )
    raise UndeclaredResourceError(
        f"Function {spec.name!r} uses {resource!r} without declaring it, so deploy grants it no access; add "
        f"uses=[{resource.name_in_code}.{access}()] to its @function."
    )
