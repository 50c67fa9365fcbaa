"""Footfall figures from the visit log: detail rows (not void) plus the purged-days rollup.

Plain Python over the store; no Textual. Every figure counts each visit once, whether its
detail is still in `visit` or has been folded into `visit_daily` by `triage purge`.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, literal, select, union_all

from triage.store import ROLLUP_KEYS, Store, Visit, VisitDaily

GROUPABLE = ROLLUP_KEYS + ("local_weekday",)


def visit_counts(store: Store, start: date, end: date, by: tuple[str, ...] = ("site_id",),
                 include_demo: bool = True) -> dict[tuple, int]:
    """Visits with start <= local date < end, counted per combination of the `by` columns."""
    unknown = set(by) - set(GROUPABLE)
    if unknown:
        raise ValueError(f"cannot group by {sorted(unknown)}; choose from {GROUPABLE}")

    def column(table, name):
        col = getattr(table, name)
        return (func.coalesce(col, "") if name == "postcode_site_id" else col).label(name)

    detail = select(*[column(Visit, b) for b in by], literal(1).label("n")).where(
        Visit.local_date >= start, Visit.local_date < end, Visit.voided_utc.is_(None),
        *([] if include_demo else [Visit.demo.is_(False)]),
    )
    folded = select(*[column(VisitDaily, b) for b in by], VisitDaily.visits.label("n")).where(
        VisitDaily.local_date >= start, VisitDaily.local_date < end,
        *([] if include_demo else [VisitDaily.demo.is_(False)]),
    )
    both = union_all(detail, folded).subquery()
    keys = [both.c[b] for b in by]
    query = select(*keys, func.sum(both.c.n)).group_by(*keys)
    with store.engine.connect() as conn:
        return {tuple(row[:-1]): int(row[-1]) for row in conn.execute(query)}
