"""Errors a user can cause. The CLI prints them as one line and exits 2."""
from __future__ import annotations


class UserError(Exception):
    """Bad input: a case file, a flag, a release name, a ticket.

    The message is one line naming the file or flag, the field, the value and what
    was expected. The CLI prints it without a traceback and exits with code 2.
    """

    exit_code = 2


class EnvironmentProblem(UserError):
    """Something the machine lacks (no Docker engine, no network for a provider)."""
