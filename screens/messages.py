"""Messages from the app's workers to the desk screen: what the visit log did."""

from __future__ import annotations

from textual.message import Message


class LogReady(Message):
    """The database answered (or not) after start-up; counts are today's (desk, site)."""

    def __init__(
        self,
        available: bool,
        counts: tuple[int, int] | None,
        error: str = "",
        reason: str = "",
        demo: bool = False,
        params: dict | None = None,
        first_start: bool = False,
    ) -> None:
        super().__init__()
        self.params = params or {}  # the numbers and names in the error's text
        self.available = available
        self.counts = counts
        self.error = error  # an i18n key (e.g. db_newer)
        self.reason = reason  # why the database does not answer, as the driver said it
        self.demo = demo  # a demo database: the desk says so
        self.first_start = first_start  # a real database with no visit yet: say how to practise


class VisitLogged(Message):
    """A confirmed visit was written ('saved'), spooled ('spooled') or not kept ('failed')."""

    def __init__(
        self,
        visit: dict,
        status: str,
        counts: tuple[int, int] | None,
        error: str = "",
        reason: str = "",
    ) -> None:
        super().__init__()
        self.visit = visit
        self.status = status
        self.counts = counts
        self.error = error
        self.reason = reason


class VisitVoided(Message):
    """The last visit was voided ('saved'/'spooled'), there was none to undo, or 'failed'."""

    def __init__(
        self, visit: dict | None, status: str, counts: tuple[int, int] | None, reason: str = ""
    ) -> None:
        super().__init__()
        self.visit = visit
        self.status = status
        self.counts = counts
        self.reason = reason  # why a failed undo was not kept
