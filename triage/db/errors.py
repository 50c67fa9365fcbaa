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
    triage.db.roles), "login" (the server refused the login: a wrong or missing password, an
    unknown user), "no_database" (the server has no database of that name), "down" (the server
    does not answer); None when the driver's words are all there is. Read from SQLite's error
    name or PostgreSQL's SQLSTATE where the driver gives one, else from its (English) words."""
    cause = getattr(error, "orig", None) or error
    if isinstance(cause, DatabaseGone):
        return "gone"
    if getattr(cause, "sqlstate", None) == INSUFFICIENT_PRIVILEGE:
        return "denied"
    name = getattr(cause, "sqlite_errorname", "") or ""
    said = str(cause).lower()
    server = server_cause(said)
    if server is not None:
        return server
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


# What PostgreSQL's driver says when it cannot log in or reach the server. A failed connection
# has no SQLSTATE (no server reply to carry one), so its (English) words are all there is.
LOGIN_REFUSED = (
    "password authentication failed",
    "no password supplied",
    "authentication failed",
    "no pg_hba.conf entry",
    "pg_hba.conf rejects",
)
SERVER_DOWN = (
    "connection refused",
    "could not connect",
    "connection failed",
    "timeout expired",
    "could not translate host name",
    "name or service not known",
    "no route to host",
    "server closed the connection",
    "terminating connection",
    "the connection is lost",
    "the connection is closed",
    "ssl syscall error",
)


def server_cause(said: str) -> str | None:
    """ "login", "no_database" or "down" from a database server's (lower-cased) words; None
    when they say none of these."""
    if any(words in said for words in LOGIN_REFUSED) or (
        "fatal" in said and "role " in said and "does not exist" in said
    ):
        return "login"
    if "database " in said and "does not exist" in said and "fatal" in said:
        return "no_database"
    if any(words in said for words in SERVER_DOWN):
        return "down"
    return None
