"""The rollups: small tables of counts that triggers keep in the same transaction as every
visit and void, so statistics never read the visit table and purging detail changes no figure.
Here are their keys, the triggers, and the SQL that builds, sums and compares them."""

from __future__ import annotations

from datetime import date

Keys = tuple[str, ...]  # a rollup's key columns
# What a rollup row keeps of a visit (besides the count).
ROLLUP_KEYS: Keys = (
    "local_date",
    "local_hour",
    "site_id",
    "destination_id",
    "outcome_id",
    "channel",
    "handled_here",
    "postcode_site_id",
    "demo",
)
HOURLY_KEYS: Keys = ("local_date", "site_id", "local_hour", "demo")
ROUTE_KEYS: Keys = (
    "local_date",
    "site_id",
    "postcode_site_id",
    "destination_id",
    "handled_here",
    "demo",
)
DAY_KEYS: Keys = ("local_date", "site_id", "demo")
# Every rollup with its key, kept by the triggers (and by the bulk load) in the same way.
ROLLUPS = (
    ("visit_daily", ROLLUP_KEYS),
    ("visit_hourly", HOURLY_KEYS),
    ("visit_route", ROUTE_KEYS),
    ("visit_day", DAY_KEYS),
)
# The month rollups, and the day rollup each one sums.
MONTHLY = (
    (
        "visit_month_hourly",
        ("month", "site_id", "local_weekday", "local_hour", "demo"),
        "visit_hourly",
    ),
    ("visit_month_route", ("month", *ROUTE_KEYS[1:]), "visit_route"),
)
# Only visits with a postcode go here.
POSTCODE_KEYS: Keys = ("local_date", "site_id", "postcode", "postcode_site_id", "demo")
# Rollups that are sums of another one, with the one they sum: what an upgrade or a bulk load
# builds from that one rather than from the visits.
SUMMED = (("visit_day", DAY_KEYS, "visit_hourly"), *MONTHLY)
# Every rollup the triggers keep, with its key.
EVERY_ROLLUP = (
    *ROLLUPS,
    *((table, keys) for table, keys, _ in MONTHLY),
    ("visit_postcode", POSTCODE_KEYS),
)


def month_of(day: str, dialect: str) -> str:
    """SQL for the first day of the month of the date `day`."""
    if dialect == "postgresql":
        return f"CAST(date_trunc('month', {day}) AS date)"
    return f"date({day}, 'start of month')"


def counted_columns(keys: tuple[str, ...]) -> list[str]:
    """A rollup's columns besides the count: its key, and the weekday of a day's rows."""
    return [*keys] if "month" in keys else [*keys, "local_weekday"]


def add_sql(table: str, keys: tuple[str, ...], select: str, added: str = "excluded.visits") -> str:
    """Add the rows of `select` (the key, local_weekday unless by month, then visits) to the
    rollup `table`: new keys inserted, known ones counted up by `added`. SQLite needs the
    SELECT to end in WHERE or GROUP BY here, or it reads ON CONFLICT as part of a join."""
    return (
        f"INSERT INTO {table} ({', '.join(counted_columns(keys))}, visits) {select} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET visits = {table}.visits + {added}"
    )


def _upsert_sql(
    table: str, keys: tuple[str, ...], row: str, delta: str, when: str = "", dialect: str = "sqlite"
) -> str:
    """INSERT … ON CONFLICT DO UPDATE adding `delta` visits for the visit in `row` (NEW), if
    the visit meets `when`."""
    columns = counted_columns(keys)

    def value(column: str) -> str:
        if column == "postcode_site_id":
            return f"COALESCE({row}.postcode_site_id, '')"
        if column == "month":
            return month_of(f"{row}.local_date", dialect)
        return f"{row}.{column}"

    values = [value(c) for c in columns]
    return add_sql(
        table, keys, f"SELECT {', '.join(values)}, {delta} WHERE {when or 'true'}", delta
    )


def rollup_triggers(dialect: str) -> list[str]:
    """The triggers that keep visit_daily and visit_hourly exact: +1 on insert, -1 on void."""

    def upserts(delta: str) -> str:
        return "; ".join(
            [
                *(_upsert_sql(table, keys, "NEW", delta) for table, keys in ROLLUPS),
                *(
                    _upsert_sql(table, keys, "NEW", delta, dialect=dialect)
                    for table, keys, _ in MONTHLY
                ),
                _upsert_sql(
                    "visit_postcode", POSTCODE_KEYS, "NEW", delta, "NEW.postcode IS NOT NULL"
                ),
            ]
        )

    if dialect == "postgresql":
        return [
            f"""CREATE OR REPLACE FUNCTION triage_visit_rollup() RETURNS trigger AS $$
            DECLARE delta integer;
            BEGIN
                IF TG_OP = 'INSERT' THEN
                    IF NEW.voided_utc IS NOT NULL THEN RETURN NULL; END IF;
                    delta := 1;
                ELSIF OLD.voided_utc IS NULL AND NEW.voided_utc IS NOT NULL THEN
                    delta := -1;
                ELSE
                    RETURN NULL;
                END IF;
                {upserts("delta")};
                RETURN NULL;
            END $$ LANGUAGE plpgsql""",
            "DROP TRIGGER IF EXISTS visit_rollup ON visit",
            "CREATE TRIGGER visit_rollup AFTER INSERT OR UPDATE OF voided_utc ON visit "
            "FOR EACH ROW EXECUTE FUNCTION triage_visit_rollup()",
        ]
    return [
        f"""CREATE TRIGGER IF NOT EXISTS visit_rollup_insert AFTER INSERT ON visit
        WHEN NEW.voided_utc IS NULL BEGIN {upserts("1")}; END""",
        f"""CREATE TRIGGER IF NOT EXISTS visit_rollup_void AFTER UPDATE OF voided_utc ON visit
        WHEN OLD.voided_utc IS NULL AND NEW.voided_utc IS NOT NULL
        BEGIN {upserts("-1")}; END""",
    ]


def sum_sql(table: str, keys: tuple[str, ...], source: str, dialect: str) -> str:
    """Add the rows of `source` (a rollup with a date and a weekday, or one shaped like it)
    to `table`, summed over its key; "month" in the key sums whole months."""
    grouped = [month_of("local_date", dialect) if k == "month" else k for k in keys]
    weekday = [] if "month" in keys else ["MIN(local_weekday)"]
    return add_sql(
        table,
        keys,
        f"SELECT {', '.join([*grouped, *weekday])}, SUM(visits) FROM {source} "
        f"GROUP BY {', '.join(grouped)}",
    )


def group_postcodes_sql(source: str, condition: str) -> str:
    """Add the visits of `source` that gave a postcode to visit_postcode, grouped."""
    grouped = ", ".join(POSTCODE_KEYS).replace("postcode_site_id", "COALESCE(postcode_site_id, '')")
    return add_sql(
        "visit_postcode",
        POSTCODE_KEYS,
        f"SELECT {grouped}, MIN(local_weekday), COUNT(*) FROM {source} "
        f"WHERE postcode IS NOT NULL AND {condition} GROUP BY {grouped}",
    )


def expected_triggers(dialect: str) -> dict[str, str]:
    """Each rollup trigger by name, with what the database keeps of it: on SQLite the CREATE
    statement (SQLite drops the IF NOT EXISTS), on PostgreSQL the trigger function's body."""
    statements = rollup_triggers(dialect)
    if dialect == "postgresql":
        return {"visit_rollup": statements[0].split("$$")[1]}
    return {
        statement.split()[5]: statement.replace("IF NOT EXISTS ", "", 1) for statement in statements
    }


# Rollups counted from the visits, and those summed from another rollup (with their source).
COUNTED = tuple(
    (table, keys)
    for table, keys in EVERY_ROLLUP
    if table not in {summed for summed, _, _ in SUMMED}
)


def kept_days(kept_from: date | None) -> str:
    """SQL: the days whose every visit is still in the detail. Purge deletes whole days before
    a date (kept_from); a day with no visit row at all has nothing to count from either, so its
    figures stay as they are (detail deleted by an older purge that did not record it)."""
    since = f"local_date >= '{kept_from.isoformat()}' AND " if kept_from else ""
    return f"{since}local_date IN (SELECT local_date FROM visit)"


def rollup_select(table: str, keys: tuple[str, ...], where: str = "true") -> str:
    """A rollup's rows as they are (rows a void brought down to 0 count as absent)."""
    columns = ", ".join(counted_columns(keys))
    return f"SELECT {columns}, visits FROM {table} WHERE visits <> 0 AND {where}"


def detail_select(table: str, keys: tuple[str, ...], kept_from: date | None) -> str:
    """What the counted rollup `table` must hold for the kept days, counted from the visits."""
    grouped = ["COALESCE(postcode_site_id, '')" if k == "postcode_site_id" else k for k in keys]
    since = f" AND local_date >= '{kept_from.isoformat()}'" if kept_from else ""
    postcode = " AND postcode IS NOT NULL" if table == "visit_postcode" else ""
    columns = ", ".join(f"{g} AS {k}" for g, k in zip(grouped, keys, strict=True))
    return (
        f"SELECT {columns}, MIN(local_weekday) AS local_weekday, COUNT(*) AS visits FROM visit "
        f"WHERE voided_utc IS NULL{since}{postcode} GROUP BY {', '.join(grouped)}"
    )


def summed_select(keys: tuple[str, ...], source: str, dialect: str) -> str:
    """What a summed rollup must hold: its source rollup summed over its key."""
    grouped = [month_of("local_date", dialect) if k == "month" else k for k in keys]
    weekday = "" if "month" in keys else ", MIN(local_weekday) AS local_weekday"
    columns = ", ".join(f"{g} AS {k}" for g, k in zip(grouped, keys, strict=True))
    return (
        f"SELECT {columns}{weekday}, SUM(visits) AS visits FROM {source} "
        f"GROUP BY {', '.join(grouped)} HAVING SUM(visits) <> 0"
    )


def differing_sql(keys: tuple[str, ...], found: str, expected: str) -> str:
    """SQL counting the keys whose row differs between two selects (or is in one only)."""
    key = ", ".join(keys)
    return (
        f"SELECT COUNT(*) FROM (SELECT {key} FROM ({found} EXCEPT {expected}) AS extra "
        f"UNION SELECT {key} FROM ({expected} EXCEPT {found}) AS missing) AS differing"
    )
