"""Domain errors: the one vocabulary every package uses to refuse something.

Domain code raises these and never knows about HTTP or Socket.IO; the `web/` edge maps each
`code` to a status (REST) or an error ack (Socket.IO). Messages are written for a librarian,
not a programmer: they say what was wrong and, where it helps, what would be right.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the product explains to its user."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class Invalid(DomainError):
    """The input cannot be accepted as it is (malformed, out of range, breaks a rule)."""

    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The input is fine but collides with what is already stored."""

    code = "conflict"


class Forbidden(DomainError):
    code = "forbidden"


class Unauthorized(DomainError):
    """Nobody (or nobody valid) is signed in."""

    code = "unauthorized"


class TooLarge(Invalid):
    """Bigger than a configured limit; checked before the whole thing is read or decoded."""

    code = "too_large"


class Unavailable(DomainError):
    """A component we depend on (database, printer, catalog server) does not answer now."""

    code = "unavailable"
