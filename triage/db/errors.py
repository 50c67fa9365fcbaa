"""The one error the database layer raises for a person to act on. Plain Python: importing it
loads no ORM."""

from __future__ import annotations

from triage.errors import CodedError

# PostgreSQL's SQLSTATE for "permission denied", a row-level security policy's refusal included.
INSUFFICIENT_PRIVILEGE = "42501"


class DbError(CodedError):
    """A database problem a person must act on: `code` names the i18n message, `params` fill
    it in. Callers tell the problems apart by `code` (e.g. "db_newer", "not_saved")."""


class DatabaseGone(OSError):
    """The SQLite file at --db is not the file this process opened: moved, deleted or replaced
    (a restore, a copy). Writing on would go into a file no one else reads."""


def db_cause(error: BaseException) -> str | None:
    """Why the database driver failed, as a word the messages name their reason by: "corrupt"
    (damaged pages), "not_db", "read_only", "locked", "full", "io", "cannot_open", "gone" (the
    file was moved away: DatabaseGone), "denied" (the database role may not do it:
    triage.db.roles); None when the driver's words are all there is. Read from SQLite's error
    name or PostgreSQL's SQLSTATE where the driver gives one, else from its (English) words."""
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, DatabaseGone):
        return "gone"
    if getattr(cause, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
        return "denied"
    name = getattr(cause, "sqlite_errorname", "") or ""
    said = str(cause).lower()
    for word, names, words in (
        ("corrupt", ("SQLITE_CORRUPT",), ("malformed", "database corruption")),
        ("not_db", ("SQLITE_NOTADB",), ("file is not a database",)),
        ("full", ("SQLITE_FULL",), ("database or disk is full",)),
        ("read_only", ("SQLITE_READONLY",), ("readonly database", "read-only")),
        ("locked", ("SQLITE_BUSY", "SQLITE_LOCKED"), ("database is locked",)),
        ("cannot_open", ("SQLITE_CANTOPEN",), ("unable to open database file",)),
        ("io", ("SQLITE_IOERR",), ("disk i/o error",)),
    ):
        if name.startswith(names) or any(w in said for w in words):
            return word
    return None
