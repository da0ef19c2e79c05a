"""The ways a user's ask fails (controller/service), typed: the CLI maps them to exit codes
(cli/base.py), the HTTP API to statuses (server/api.py), each in one place. In the core so
that the server, which must not import the service layer above it, knows them too."""

from __future__ import annotations


class ServiceError(Exception):
    """An ask that cannot be done, said in one line for a user."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NotFound(ServiceError, LookupError):
    """No such job, resource, run or log (exit 2, HTTP 404)."""


class Absent(NotFound):
    """The name is right but nothing is there yet: no log, no run to follow (exit 1, 404)."""


class Invalid(ServiceError, ValueError):
    """The ask itself is wrong: a bad parameter (exit 2, HTTP 400)."""


class Refused(ServiceError):
    """The job exists but the ask makes no sense now (exit 1, HTTP 409)."""


class NeedsNoApproval(Refused):
    """Approving a job without requiresApproval: a usage error for the CLI (exit 2)."""


class HomeError(ServiceError):
    """HOME is not a Gitline home (run `gitline init HOME`) (exit 1)."""
