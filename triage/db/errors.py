"""The one error the database layer raises for a person to act on. Plain Python: importing it
loads no ORM."""

from __future__ import annotations

from triage.errors import CodedError


class DbError(CodedError):
    """A database problem a person must act on: `code` names the i18n message, `params` fill
    it in. Callers tell the problems apart by `code` (e.g. "db_newer", "not_saved")."""
