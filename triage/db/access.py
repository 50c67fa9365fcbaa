"""Whether the login a desk runs under may register its visits at all (PostgreSQL's roles,
triage.db.roles). A desk on a supervisor's login, or on a login with no desk_login row for its
desk, would keep every visit in the spool, forever: the desk says so at once, and what to fix."""

from __future__ import annotations

from typing import Any

from triage.db.roles import DESK_LOGIN
from triage.db.store import Store


def write_refusal(store: Store, site: str, desk: str) -> tuple[str, dict[str, Any]] | None:
    """Why the database will refuse every visit of this desk, as a message key and its params:
    "desk_login_read_only" (the login may not add visits: a supervisor's), "desk_login_no_desk"
    (row-level security holds it, and desk_login has no row for it at this site and desk).
    None when it may write, on SQLite, or when it cannot tell (the write itself will say)."""
    if store.dialect != "postgresql":
        return None
    from sqlalchemy import text

    try:
        with store.engine.connect() as conn:
            user, may_add, bound = conn.execute(
                text(
                    "SELECT current_user, has_table_privilege('visit', 'INSERT'), "
                    "row_security_active('visit')"
                )
            ).one()
            if not may_add:
                return "desk_login_read_only", {"user": user}
            if not bound:  # the tables' owner, or a role that bypasses the rules
                return None
            listed = conn.execute(
                text(
                    f"SELECT count(*) FROM {DESK_LOGIN} "
                    "WHERE login = current_user AND site_id = :site AND desk = :desk"
                ),
                {"site": site, "desk": desk},
            ).scalar_one()
    except Exception:  # noqa: BLE001 - a question asked in passing: the write says the rest
        return None
    if listed:
        return None
    return "desk_login_no_desk", {"user": user, "site": site, "desk": desk}
