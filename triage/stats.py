"""Footfall figures from the visit log's rollups, never from the visit table itself.

Plain Python over the store; no Textual. The rollups are kept by triggers in the same
transaction as every visit and void, so the figures are exact, and purging detail changes none.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from triage.store import ROLLUP_KEYS, Store, VisitDaily

GROUPABLE = ROLLUP_KEYS + ("local_weekday",)


def visit_counts(store: Store, start: date, end: date, by: tuple[str, ...] = ("site_id",),
                 include_demo: bool = True) -> dict[tuple, int]:
    """Visits with start <= local date < end, counted per combination of the `by` columns."""
    unknown = set(by) - set(GROUPABLE)
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}; choose from {GROUPABLE}")

    def column(name):
        return getattr(VisitDaily, name).label(name)

    keys = [column(b) for b in by]
    query = (
        select(*keys, func.sum(VisitDaily.visits))
        .where(VisitDaily.local_date >= start, VisitDaily.local_date < end,
               *([] if include_demo else [VisitDaily.demo.is_(False)]))
        .group_by(*keys)
    )
    with store.engine.connect() as conn:
        return {tuple(row[:-1]): int(row[-1]) for row in conn.execute(query) if row[-1]}
