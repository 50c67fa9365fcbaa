"""Demo history: realistic, deterministic synthetic visits for trying the footfall views.

What it imitates (see the seed documents): most visits in the morning and early in the week,
none outside opening hours, a summer low and a Christmas dip, sick-pay errands growing over the
years, and Skelbækgade — the address everyone knew — drawing far more than its share at first
and less as word of the other sites spreads. Every row is marked demo.

At the sites with queues (queues.toml), a citizen in person whose errand is handled there took
a ticket: the visit has its wait and service seconds, and the queue table its ticket. Waits
follow the load (Erlang C for the hour's arrivals at the site's counters, and a backlog that
builds up in an hour with more citizens than the counters serve and carries into the next), so
the overloaded site waits longest; service times spread around sites.toml's estimate per errand
with a long tail; about one ticket in 26 is a no-show. Past days' tickets have no numbers, as
the queue's privacy rules say; today's keep theirs.

The same seed gives the same visits. Rows are made a few weeks at a time, so memory stays
flat however many days are asked for.
"""

from __future__ import annotations

import math
import random
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from triage.flow import Flow
from triage.model import LOCAL_ZONE
from triage.queue_data import NO_QUEUES, Queues
from triage.search import ASK, routes_from_start
from triage.staffing import counters_needed, erlang_c
from triage.visits import FIELDS, QUEUE_FIELDS
from triage.walk import AnswerError, route

DESK_SITES = ("jc-skelbaek", "jc-musvaage", "jc-nord")  # the order of the daily site split
SITE_ORDER = tuple(sorted(DESK_SITES))  # site numbers in the codes follow the ids' own order
HOUR_WEIGHT = {8: 0.6, 9: 1.4, 10: 1.6, 11: 1.4, 12: 1.0, 13: 1.0, 14: 0.8, 15: 0.6, 16: 0.5}
WEEKDAY_WEIGHT = (1.35, 1.05, 0.95, 1.0, 0.7, 0.0, 0.0)
# Where citizens live (postcodes by rough population), for errands that ask for a postcode.
POSTCODES = (
    ("2200", 8),
    ("2300", 8),
    ("2400", 7),
    ("2450", 3),
    ("2500", 5),
    ("2100", 7),
    ("2150", 1),
    ("2700", 3),
    ("2720", 3),
    ("1050", 1),
    ("1360", 2),
    ("1620", 4),
    ("2000", 1),
    ("2610", 1),
)
ERRAND_WEIGHT = {  # outcome id → share of errands at the start of the period
    "sick_followup": 8,
    "sick_documents": 6,
    "sick_payment": 4,
    "sick_on_benefits": 2,
    "apply_benefits": 9,
    "benefit_payment": 8,
    "benefit_documents": 6,
    "benefit_complaint": 2,
    "special_support": 3,
    "dagpenge_payment": 2,
    "meeting": 14,
    "job_search": 7,
    "register_unemployed": 6,
    "dagpenge_meeting": 3,
    "flexjob": 2,
    "disability_pension": 2,
    "rehabilitation": 2,
    "integration_programme": 3,
    "danish_lessons": 2,
    "homeless": 1,
    "addiction": 1,
    "mental_health": 1,
    "family": 1,
    "violence": 1,
    "employer": 1,
    "health_card": 1,
    "passport": 1,
    "housing_benefit": 1,
    "udk_benefits": 1,
    "not_listed": 1,
}
SICK = {"sick_followup", "sick_documents", "sick_payment", "sick_on_benefits"}
PHONE_SHARE = 0.12
WEEK_SPREAD, DAY_SPREAD = 0.1, 0.07  # how much a week, and a day within it, varies (1 = 100 %)
SCALE = 2**30  # random numbers are whole numbers 0…SCALE-1, so SQLite needs no floats
BUCKETS = 50  # the errand mix changes in this many steps over the period
BINS = 2048  # resolution of the errand and postcode mix
NOISE_A, NOISE_B = 4093, 4091  # primes: the noise repeats only after 16.7 million visits
CHUNK = 50_000  # candidate visits made by the first statement (then more, see BATCH_CHUNKS)
# The most candidates one statement makes, and so one transaction of the bulk load holds, in
# CHUNKs: each commit waits for the disk (about 70 ms on a shared VM), and a desk writing
# beside the load waits at most that long.
BATCH_CHUNKS = 4
# What a route (errand × site × postcode) fixes about a visit: the text a row spells out, and
# the columns a rollup may be counted by.
ROUTE_TEXT = (
    "site_id",
    "desk",
    "outcome_id",
    "destination_id",
    "destinations",
    "handled_here",
    "path",
    "postcode",
    "postcode_site_id",
)
ROUTE_COLUMNS = ("destination_id", "outcome_id", "handled_here", "postcode_site_id", "postcode")
# The queue. Minutes at the counter per errand, as a share of the site's estimate (sites.toml's
# service_minutes): a new registration takes long, a quick question short; others 1.
ERRAND_SERVICE = {
    "register_unemployed": 1.5,
    "apply_benefits": 1.4,
    "integration_programme": 1.3,
    "disability_pension": 1.3,
    "rehabilitation": 1.2,
    "flexjob": 1.2,
    "meeting": 0.7,
    "dagpenge_meeting": 0.8,
    "danish_lessons": 0.6,
    "employer": 0.8,
}
SERVICE_FLOOR = 0.4  # no service shorter than this share of its errand's mean; the rest a tail
TICKET_COLUMNS = (
    "local_date",
    "local_hour",
    "local_weekday",
    "site_id",
    "queue",
    "errand",
    "state",
    "desk",
    "recalls",
    "issued_utc",
    "called_utc",
    "done_utc",
    "wait_s",
    "service_s",
)
NO_SHOW_EVERY = 25  # a no-show beside every 25th ticket served: 1 in 26, 3.8 %
LONGEST_STEADY_WAIT_S = 15 * 60  # Erlang C's mean near a full house is for a day, not an hour
_SIZES = {
    "noise_a": NOISE_A,
    "noise_b": NOISE_B,
    "scale": SCALE,
    "bins": BINS,
    "sites": len(SITE_ORDER),
    "postcodes": len(POSTCODES),
    **{
        f"{nth}_site": SITE_ORDER.index(site)
        for nth, site in zip(("first", "second", "third"), DESK_SITES, strict=True)
    },
}


def season(day: date) -> float:
    """Fewer visits in July and around Christmas."""
    if day.month == 7:
        return 0.55
    if day.month == 8 and day.day < 10:
        return 0.75
    if (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day <= 2):
        return 0.3
    return 1.0


def skelbaek_share(progress: float) -> float:
    """Skelbækgade's share of the jobcentres' visits: 0.65 at first, nearing its target 0.40."""
    return 0.40 + 0.25 * math.exp(-progress * 5)


class DemoHistory:
    """Plans the history in Python (how many candidates each opening hour gets, the errand mix
    of each stretch of days, every routing) and lets SQLite make the visits from that plan:
    Python making 5 million 18-column rows one at a time cannot reach the load rate the
    supervisors' benchmark asks for, SQLite's own INSERT … SELECT can.

    A batch is first made as whole-number codes (temp.demo_code: when, which site, which route,
    phone or not), in the order of the visit table's (date, site) index, so the rows and their
    index entries are appended rather than inserted in the middle. The visit rows are spelt out
    from the codes, and every rollup's counts are grouped by whole numbers, not text."""

    def __init__(
        self,
        flow: Flow,
        days: int,
        seed: int,
        per_day: int,
        end: date,
        until: datetime | None = None,
        queues: Queues = NO_QUEUES,
    ) -> None:
        self.flow = flow
        self.queues = queues  # the sites with queues get tickets, waits and service times
        self.days = days
        self.seed = seed
        self.per_day = per_day
        self.end = end
        self.until = until  # a history that ends today: only the minutes gone by then
        self.start = end - timedelta(days=days)
        self.errands = [e for e in ERRAND_WEIGHT if e in flow.outcomes]
        self.prefix = f"{seed & 0xFFFFFFFF:08x}"
        self._classes: dict[tuple[str, ...], int] = {}

    # --- the plan, as small tables ---------------------------------------------------

    def _slots(self) -> Iterator[tuple]:
        """One row per opening hour: its candidates, the day's site split and errand bucket."""
        rnd = random.Random(self.seed)
        # Real weeks and days differ (weather, payment days, a meeting moved): a busier or
        # quieter week, and a day a little above or below it. A stream of its own, drawn
        # for open days only.
        varies = random.Random(self.seed ^ 0x7EE7)
        first, week, week_factor = 0, None, 1.0
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            factor = WEEKDAY_WEIGHT[day.weekday()] * season(day)
            if factor == 0:
                continue
            if day.isocalendar()[:2] != week:
                week, week_factor = day.isocalendar()[:2], _clamp(varies.gauss(1, WEEK_SPREAD))
            factor *= week_factor * _clamp(varies.gauss(1, DAY_SPREAD))
            progress = offset / max(self.days - 1, 1)
            skew = skelbaek_share(progress)
            first_cut, second_cut = round(skew * SCALE), round((skew + (1 - skew) / 2) * SCALE)
            for hour, hour_weight in HOUR_WEIGHT.items():
                expected = self.per_day * factor * hour_weight / sum(HOUR_WEIGHT.values())
                n = int(expected + rnd.random())
                local = datetime.combine(day, time(hour), LOCAL_ZONE)
                if n == 0 or (self.until and local >= self.until):
                    continue  # none, or an hour to come (of this one, the minutes gone by)
                # Copenhagen is a whole number of hours from UTC: minutes carry over unchanged.
                utc = local.astimezone(UTC)
                yield (
                    offset,
                    day.isoformat(),
                    hour,
                    day.weekday(),
                    utc.strftime("%Y-%m-%d %H:"),
                    n,
                    first,
                    first_cut,
                    second_cut,
                    round(progress * BUCKETS),
                )
                first += n

    def _errand_bins(self) -> Iterator[tuple]:
        """(bucket × BINS + bin, errand number): the errand mix as bins, sick pay growing."""
        for bucket in range(BUCKETS + 1):
            grow = 1 + 0.6 * bucket / BUCKETS  # sick-pay errands grow by 60 % over the period
            weights = [ERRAND_WEIGHT[e] * (grow if e in SICK else 1) for e in self.errands]
            for bin_, errand in enumerate(_bins(weights)):
                yield (bucket * BINS + bin_, errand)

    def _routes(self) -> Iterator[dict]:
        """Every errand at every desk site with every postcode, routed by the real engine."""
        routes = routes_from_start(self.flow)
        for errand_ix, errand in enumerate(self.errands):
            for site_ix, site in enumerate(SITE_ORDER):
                for postcode_ix, (postcode, _) in enumerate(POSTCODES):
                    answers = [postcode if key == ASK else key for _, key in routes[errand]]
                    try:
                        result = route(self.flow, answers, site)
                    except AnswerError:  # a site question after ASK: pick the first site
                        result = route(
                            self.flow, ["1" if a == postcode else a for a in answers], site
                        )
                    home = (
                        result.answered_site.id
                        if result.postcode and result.answered_site
                        else None
                    )
                    yield {
                        "key": (errand_ix * len(SITE_ORDER) + site_ix) * len(POSTCODES)
                        + postcode_ix,
                        "site_id": site,
                        "desk": f"{site}-1",
                        "outcome_id": result.outcome.id,
                        "destination_id": result.destination.id,
                        "destinations": ",".join(s.id for s in result.destinations),
                        "handled_here": int(result.handled_here),
                        "path": " ".join(result.path),
                        "postcode": result.postcode,
                        "postcode_site_id": home,
                        # Seconds at the desk before the long tail: about 10 a question.
                        "base_s": 10 + 8 * (" ".join(result.path).count(" ") + 1),
                        **self._queued(site, result.outcome.id, result.handled_here),
                    }

    def _queued(self, site: str, errand: str, handled_here: bool) -> dict:
        """The queue a citizen in person took a ticket in (none: referred on, or no queues at
        the site), and the errand's mean seconds at the counter."""
        queue = self.queues.for_errand(site, errand) if handled_here else None
        minutes = self.flow.sites[site].service_minutes if queue is not None else None
        if queue is None or not minutes:
            return {"queue": None, "service_s": None}
        return {
            "queue": queue.letter,
            "service_s": round(minutes * 60 * ERRAND_SERVICE.get(errand, 1.0)),
        }

    def _waits(self, slots: list[tuple], routes: list[dict]) -> Iterator[tuple]:
        """(slot × sites + site, chance in 10,000 of waiting at all, the mean wait of those
        who wait, the backlog's wait): from the hour's expected tickets at the site, its
        counters (sites.toml's capacity) and the mean service of its errands (Erlang C), and
        the citizens an earlier overloaded hour of the day left waiting (a fluid backlog)."""
        queued, service = self._queued_mix(routes)
        counters = [self._staffed(i, queued, service) for i in range(len(SITE_ORDER))]
        backlog = [0.0] * len(SITE_ORDER)
        day = None
        for number, slot in enumerate(slots, start=1):
            if slot[0] != day:
                day, backlog = slot[0], [0.0] * len(SITE_ORDER)
            n, first_cut, second_cut, bucket = slot[5], slot[7], slot[8], slot[9]
            shares = {
                DESK_SITES[0]: first_cut / SCALE,
                DESK_SITES[1]: (second_cut - first_cut) / SCALE,
                DESK_SITES[2]: 1 - second_cut / SCALE,
            }
            for site_ix, site in enumerate(SITE_ORDER):
                minutes = service[bucket][site_ix]
                if not minutes:
                    yield (number * len(SITE_ORDER) + site_ix, 0, 0, 0)
                    continue
                open_ = counters[site_ix]
                arrivals = n * shares[site] * (1 - PHONE_SHARE) * queued[bucket][site_ix]
                load = arrivals * minutes / 60
                served_per_hour = open_ * 60 / minutes
                before = backlog[site_ix]
                backlog[site_ix] = max(0.0, before + arrivals - served_per_hour)
                waits_behind = (before + backlog[site_ix]) / 2 / served_per_hour * 3600
                if load < open_:
                    chance = erlang_c(open_, load)
                    mean = min(minutes * 60 / (open_ - load), LONGEST_STEADY_WAIT_S)
                else:
                    chance, mean = 1.0, minutes * 60 / open_
                key = number * len(SITE_ORDER) + site_ix
                yield (key, round(chance * 10_000), round(mean), round(waits_behind))

    def counters(self) -> dict[str, int]:
        """Per site with a queue: the counters it opens for the queue in this history."""
        queued, service = self._queued_mix(list(self._routes()))
        return {
            site: self._staffed(i, queued, service)
            for i, site in enumerate(SITE_ORDER)
            if service[BUCKETS // 2][i]
        }

    def _staffed(self, site_ix: int, queued: list[list[float]], service: list[list[float]]) -> int:
        """The counters a site opens for its queue: as planned for its target share (sites.toml)
        of a busy hour on an ordinary Tuesday (Erlang C, 80 % within 10 minutes), at most its
        capacity. A site drawing more than its target share (Skelbækgade, at first) is then
        overloaded in its busy hours, as the story goes."""
        site = self.flow.sites[SITE_ORDER[site_ix]]
        middle = BUCKETS // 2
        share = site.target_share if site.target_share is not None else 1 / len(SITE_ORDER)
        planned = (
            self.per_day
            * WEEKDAY_WEIGHT[1]
            * max(HOUR_WEIGHT.values())
            / sum(HOUR_WEIGHT.values())
            * share
            * (1 - PHONE_SHARE)
            * queued[middle][site_ix]
        )
        minutes = service[middle][site_ix] or 1.0
        needed = counters_needed(planned, minutes).counters
        return max(1, min(needed, site.capacity or needed))

    def _queued_mix(self, routes: list[dict]) -> tuple[list[list[float]], list[list[float]]]:
        """Per errand bucket and site: the share of citizens in person who take a ticket, and
        their mean minutes at the counter (0: no queue)."""
        weights = dict(POSTCODES)
        total = sum(weights.values())
        per_route: dict[tuple[int, int], tuple[float, float]] = {}  # (errand, site) → share, s
        for r in routes:
            errand_ix, rest = divmod(r["key"], len(SITE_ORDER) * len(POSTCODES))
            site_ix, postcode_ix = divmod(rest, len(POSTCODES))
            if r["queue"] is None:
                continue
            share = weights[POSTCODES[postcode_ix][0]] / total
            before = per_route.get((errand_ix, site_ix), (0.0, 0.0))
            per_route[(errand_ix, site_ix)] = (
                before[0] + share,
                before[1] + share * r["service_s"],
            )
        queued, service = [], []
        for bucket in range(BUCKETS + 1):
            grow = 1 + 0.6 * bucket / BUCKETS
            mix = [ERRAND_WEIGHT[e] * (grow if e in SICK else 1) for e in self.errands]
            whole = sum(mix)
            shares, minutes = [], []
            for site_ix in range(len(SITE_ORDER)):
                share = seconds = 0.0
                for errand_ix, weight in enumerate(mix):
                    part, part_s = per_route.get((errand_ix, site_ix), (0.0, 0.0))
                    share += weight / whole * part
                    seconds += weight / whole * part_s
                shares.append(share)
                minutes.append(seconds / share / 60 if share else 0.0)
            queued.append(shares)
            service.append(minutes)
        return queued, service

    def _open_minutes(self) -> Iterator[tuple]:
        """(weekday × sites + site) × 1440 + minute of the day, for every minute a site is open."""
        monday = date(2024, 1, 1)
        for weekday in range(7):
            for site_ix, site in enumerate(SITE_ORDER):
                for opens, closes in self.flow.sites[site].windows_on(
                    monday + timedelta(days=weekday)
                ):
                    for minute in range(
                        opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute
                    ):
                        yield ((weekday * len(SITE_ORDER) + site_ix) * 1440 + minute,)

    def prepare(self, cursor, groupings: tuple[tuple[str, ...], ...] = ()) -> list[tuple[int, int]]:
        """Write the plan into TEMP tables on this SQLite cursor; returns the slot ranges that
        `make_codes` takes one at a time (a few tens of thousands of visits each).
        `groupings` are the key columns `counts_sql` will be asked for: each gets a whole-number
        class per route, stored with every code."""
        rnd = random.Random(self.seed ^ 0x5EED)
        routes = list(self._routes())
        subsets = sorted(
            {tuple(c for c in ROUTE_COLUMNS if c in keys) for keys in groupings} - {()}
        )
        self._classes = {subset: number for number, subset in enumerate(subsets)}
        noise = (
            "(r INTEGER PRIMARY KEY, site INT, minute INT, errand INT, phone INT, postcode INT, "
            "wait_u INT, wait_f INT, service_f INT)"
        )
        tables = {
            "demo_slot": "(slot INTEGER PRIMARY KEY, day INT, local_date TEXT, hour INT, "
            "weekday INT, utc_prefix TEXT, n INT, first INT, first_cut INT, "
            "second_cut INT, bucket INT, month TEXT)",
            "demo_day": "(day INTEGER PRIMARY KEY, local_date TEXT, weekday INT, month TEXT)",
            "demo_site": "(site INTEGER PRIMARY KEY, site_id TEXT)",
            "demo_count": "(k INTEGER PRIMARY KEY)",
            "demo_noise_a": noise,
            "demo_noise_b": noise,
            "demo_errand": "(key INTEGER PRIMARY KEY, errand INT)",
            "demo_postcode": "(bin INTEGER PRIMARY KEY, postcode INT)",
            "demo_route": f"(key INTEGER PRIMARY KEY, {', '.join(ROUTE_TEXT)}, base_s INT, "
            f"queue TEXT, service_s INT{self._class_columns()})",
            "demo_wait": "(key INTEGER PRIMARY KEY, chance INT, mean_s INT, behind_s INT)",
            "demo_open": "(key INTEGER PRIMARY KEY)",
            "demo_code": CODE_COLUMNS.format(classes=self._class_columns()),
        }
        for subset, number in self._classes.items():
            tables[f"demo_class{number}"] = f"(class INTEGER PRIMARY KEY, {', '.join(subset)})"
        for name, definition in tables.items():
            cursor.execute(f"DROP TABLE IF EXISTS temp.{name}")
            cursor.execute(f"CREATE TEMP TABLE {name} {definition}")
        slots = [(*slot, slot[1][:8] + "01") for slot in self._slots()]
        cursor.executemany(
            "INSERT INTO demo_slot VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", slots
        )
        cursor.execute(
            "INSERT INTO demo_day SELECT DISTINCT day, local_date, weekday, month FROM demo_slot"
        )
        cursor.executemany("INSERT INTO demo_site VALUES (?, ?)", enumerate(SITE_ORDER))
        most = max((s[5] for s in slots), default=0)
        cursor.executemany("INSERT INTO demo_count VALUES (?)", ((k,) for k in range(most)))
        # The queue's numbers come from a stream of their own: the visits stay as they were.
        # A wait's and a service's factor each from one table (no lookup per visit); the pair
        # repeats only after NOISE_A × NOISE_B visits.
        queue_rnd = random.Random(self.seed ^ 0x0DE5)
        tails = list(_tails())
        for name, size in (("demo_noise_a", NOISE_A), ("demo_noise_b", NOISE_B)):
            cursor.executemany(
                f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        r,
                        rnd.randrange(SCALE),
                        rnd.randrange(60),
                        rnd.randrange(BINS),
                        rnd.randrange(100),
                        rnd.randrange(BINS),
                        queue_rnd.randrange(10_000),
                        tails[queue_rnd.randrange(BINS)][1],
                        tails[queue_rnd.randrange(BINS)][2],
                    )
                    for r in range(size)
                ),
            )
        cursor.executemany("INSERT INTO demo_wait VALUES (?, ?, ?, ?)", self._waits(slots, routes))
        cursor.executemany("INSERT INTO demo_errand VALUES (?, ?)", self._errand_bins())
        cursor.executemany(
            "INSERT INTO demo_postcode VALUES (?, ?)", enumerate(_bins([w for _, w in POSTCODES]))
        )
        for subset, number in self._classes.items():
            # Numbered in key order, so grouped counts come out nearly in the rollup's order.
            # Rollups keep "no home site" as '' (it takes part in their key); a class that
            # needs a postcode has none for routes without one.
            values = {
                tuple("" if c == "postcode_site_id" and r[c] is None else r[c] for c in subset)
                for r in routes
                if "postcode" not in subset or r["postcode"] is not None
            }
            numbered = {v: n for n, v in enumerate(sorted(values))}
            cursor.executemany(
                f"INSERT INTO demo_class{number} VALUES ({', '.join('?' * (len(subset) + 1))})",
                ((n, *v) for v, n in numbered.items()),
            )
            for r in routes:
                value = tuple(
                    "" if c == "postcode_site_id" and r[c] is None else r[c] for c in subset
                )
                r[f"class{number}"] = numbered.get(value)
        columns = [
            "key",
            *ROUTE_TEXT,
            "base_s",
            "queue",
            "service_s",
            *(f"class{n}" for n in self._classes.values()),
        ]
        cursor.executemany(
            f"INSERT INTO demo_route VALUES ({', '.join('?' * len(columns))})",
            ([r[c] for c in columns] for r in routes),
        )
        cursor.executemany("INSERT INTO demo_open VALUES (?)", self._open_minutes())
        # Slot ranges of about CHUNK candidates at first, then twice, up to BATCH_CHUNKS times
        # that: a loader starts soon and then commits seldom (each commit waits for the disk).
        # Memory stays flat however long the history.
        chunks, low, candidates, size = [], 1, 0, CHUNK
        for number, slot in enumerate(slots, start=1):
            candidates += slot[5]
            if candidates >= size:
                chunks.append((low, number + 1))
                low, candidates = number + 1, 0
                size = min(2 * size, BATCH_CHUNKS * CHUNK)
        if candidates:
            chunks.append((low, len(slots) + 1))
        return chunks

    def make_codes(self, cursor, chunk: tuple[int, int], table: str = "temp.demo_code") -> int:
        """Fill `table` (emptied first; by default temp.demo_code) with one chunk's visits as
        codes; returns how many."""
        cursor.execute(f"DELETE FROM {table}")
        classes = "".join(f", r.class{n}" for n in self._classes.values())
        cursor.execute(
            CODES.format(table=table, classes=classes, until=self._until_sql(), **_SIZES),
            {"low": chunk[0], "high": chunk[1], "phone": round(PHONE_SHARE * 100)},
        )
        made = cursor.rowcount
        cutoff = self._cutoff()
        if cutoff is not None:  # today: a citizen not yet done by now has no times (nor ticket)
            cursor.execute(
                f"UPDATE {table} SET wait_s = NULL, service_s = NULL WHERE wait_s IS NOT NULL "
                f"AND day * 1440 + (SELECT hour FROM demo_slot s WHERE s.slot = {table}.slot) * 60"
                f" + minute + (wait_s + max(service_s, 120)) / 60 >= {cutoff}"
            )
        return made

    def _cutoff(self) -> int | None:
        """`until` as day number × 1440 + local minute of the day; None for whole days."""
        if self.until is None:
            return None
        until = self.until.astimezone(LOCAL_ZONE)
        return (until.date() - self.start).days * 1440 + until.hour * 60 + until.minute

    @property
    def today(self) -> date | None:
        """The day whose tickets keep their numbers (the history ends today), or None."""
        return self.until.astimezone(LOCAL_ZONE).date() if self.until is not None else None

    def _until_sql(self) -> str:
        """No visit at or after `until` (day number × 1440 + local minute of the day); no
        condition at all for a history of whole days, which costs nothing per visit."""
        cutoff = self._cutoff()
        if cutoff is None:
            return ""
        return f"WHERE v.day * 1440 + v.hour * 60 + v.minute < {cutoff}"

    def visit_select(self, codes: str = "temp.demo_code") -> tuple[str, dict]:
        """The SELECT spelling the codes in `codes` out as visit rows (FIELDS, then
        QUEUE_FIELDS), and its parameters."""
        select = VISITS.format(codes=codes, u=SPREAD)
        return select, {"prefix": self.prefix, "version": self.flow.version}

    def ticket_select(self, codes: str = "temp.demo_code") -> str:
        """The SELECT spelling the codes in `codes` out as queue tickets (TICKET_COLUMNS)."""
        return TICKETS.format(codes=codes)

    def counts_sql(
        self, keys: tuple[str, ...], codes: str = "temp.demo_code"
    ) -> tuple[list[str], str]:
        """The codes in `codes` counted per `keys` (rollup key columns, or "month" for the first
        of the month): the columns it gives (the keys, local_weekday unless by month, then the
        count) and its SELECT. Grouped by whole numbers first, spelt out as text after."""
        subset = tuple(c for c in ROUTE_COLUMNS if c in keys)
        by_hour = "local_hour" in keys
        inner = ["c.slot" if by_hour else "c.day"]
        outer = {
            "local_date": "t.local_date",
            "local_hour": "t.hour",
            "local_weekday": "t.weekday",
            "month": "t.month",
            "demo": "1",
        }
        joins = [
            "JOIN demo_slot t ON t.slot = g.slot" if by_hour else "JOIN demo_day t ON t.day = g.day"
        ]
        if "site_id" in keys:
            inner.append("c.site")
            joins.append("JOIN demo_site s ON s.site = g.site")
            outer["site_id"] = "s.site_id"
        if "channel" in keys:
            inner.append("c.phone")
            outer["channel"] = "CASE WHEN g.phone THEN 'phone' ELSE 'in_person' END"
        where = "true"
        if subset:
            number = self._classes[subset]
            inner.append(f"c.class{number}")
            joins.append(f"JOIN demo_class{number} r ON r.class = g.class{number}")
            outer.update({c: f"r.{c}" for c in subset})
            if "postcode" in subset:  # only visits that gave one
                where = f"c.class{number} IS NOT NULL"
        columns = list(keys) if "month" in keys else [*keys, "local_weekday"]
        grouped = (
            f"SELECT {', '.join(inner)}, COUNT(*) AS n FROM {codes} c WHERE {where} "
            f"GROUP BY {', '.join(inner)}"
        )
        spelt = ", ".join(f"{outer[c]} AS {c}" for c in columns)
        if "month" in keys:  # days or hours first, then their months
            return columns, (
                f"SELECT {spelt}, SUM(g.n) AS visits FROM ({grouped}) g {' '.join(joins)} "
                f"GROUP BY {', '.join(outer[c] for c in columns)}"
            )
        return columns, f"SELECT {spelt}, g.n AS visits FROM ({grouped}) g {' '.join(joins)}"

    def write_batches(
        self,
        directory: Path,
        groupings: tuple[tuple[str, ...], ...],
        sums: tuple[str, ...] = (),
        stop: threading.Event | None = None,
    ) -> Iterator[tuple[Path, int]]:
        """Make the history as batch files in `directory`, one SQLite file per chunk, and yield
        each (path, visits) when it is complete. A file holds the chunk's codes (demo_code),
        for each of `groupings` its counts (table count<i>: the columns of `counts_sql`), and
        for each of `sums` (SELECTs over those counts, as batch.count<i>) its rows (sum<j>).
        Made in a connection of its own, so a loader can spell out one batch while this makes
        the next: SQLite lets two connections work at once, one connection never does."""
        connection = sqlite3.connect(":memory:", isolation_level=None)
        try:
            cursor = connection.cursor()
            for number, chunk in enumerate(self.prepare(cursor, groupings)):
                if stop is not None and stop.is_set():
                    return
                path = directory / f"batch-{number}.db"
                cursor.execute("ATTACH ? AS batch", (str(path),))
                # A scratch file read once: no journal, no waiting for the disk.
                cursor.execute("PRAGMA batch.journal_mode = OFF")
                cursor.execute("PRAGMA batch.synchronous = OFF")
                columns = CODE_COLUMNS.format(classes=self._class_columns())
                cursor.execute(f"CREATE TABLE batch.demo_code {columns}")
                made = self.make_codes(cursor, chunk, "batch.demo_code")
                for index, keys in enumerate(groupings):
                    _, counted = self.counts_sql(keys, "batch.demo_code")
                    cursor.execute(f"CREATE TABLE batch.count{index} AS {counted}")
                for index, summed in enumerate(sums):
                    cursor.execute(f"CREATE TABLE batch.sum{index} AS {summed}")
                cursor.execute("DETACH batch")
                yield path, made
        finally:
            connection.close()

    def _class_columns(self) -> str:
        return "".join(f", class{n} INT" for n in self._classes.values())

    def rows(self) -> Iterator[tuple]:
        """The visits as tuples in FIELDS order, made the same way in a private in-memory
        database (tests, and loading into PostgreSQL)."""
        memory = sqlite3.connect(":memory:")
        try:
            cursor = memory.cursor()
            select, params = self.visit_select()
            for chunk in self.prepare(cursor):
                self.make_codes(cursor, chunk)
                for row in cursor.execute(select, params):  # a row at a time: memory stays flat
                    yield (*row[:11], bool(row[11]), *row[12:17], bool(row[17]), *row[18:])
        finally:
            memory.close()

    def visits(self) -> Iterator[dict]:
        """The same visits as dicts (for the store's bulk insert on any engine)."""
        for row in self.rows():
            visit = dict(zip(FIELDS + QUEUE_FIELDS, row, strict=True))
            visit["at_utc"] = visit["at_utc"].replace(" ", "T") + "+00:00"
            yield visit

    def tickets(self) -> Iterator[dict]:
        """The queue's tickets as dicts of TICKET_COLUMNS (numberless), made the same way in a
        private in-memory database (loading into PostgreSQL)."""
        memory = sqlite3.connect(":memory:")
        try:
            cursor = memory.cursor()
            select = self.ticket_select()
            for chunk in self.prepare(cursor):
                self.make_codes(cursor, chunk)
                for row in cursor.execute(select):
                    ticket = dict(zip(TICKET_COLUMNS, row, strict=True))
                    ticket["local_date"] = date.fromisoformat(ticket["local_date"])
                    for column in ("issued_utc", "called_utc", "done_utc"):
                        ticket[column] = datetime.fromisoformat(ticket[column]).replace(tzinfo=UTC)
                    yield ticket
        finally:
            memory.close()


def _tails() -> Iterator[tuple[int, int, int]]:
    """(bin, wait factor, service factor) in thousandths, BINS quantiles: a wait of those who
    wait is exponential (Erlang C's), a service SERVICE_FLOOR of its mean and an exponential
    tail; both average 1."""
    for bin_ in range(BINS):
        tail = -math.log(1 - (bin_ + 0.5) / BINS)
        yield bin_, round(1000 * tail), round(1000 * (SERVICE_FLOOR + (1 - SERVICE_FLOOR) * tail))


def _clamp(factor: float) -> float:
    """A week's or day's factor within reason: a week never half or double another."""
    return min(1.3, max(0.7, factor))


def _bins(weights: list[float]) -> list[int]:
    """BINS bins, each holding the number of the weight whose share of the whole covers it."""
    total = sum(weights)
    bins, running, i = [], 0.0, 0
    for bin_ in range(BINS):
        middle = (bin_ + 0.5) / BINS * total
        while i < len(weights) - 1 and running + weights[i] <= middle:
            running += weights[i]
            i += 1
        bins.append(i)
    return bins


# One visit's five random numbers: the same row of two noise tables whose sizes share no
# factor, added modulo their range, so the pattern repeats only after NOISE_A × NOISE_B visits.
# Every lookup is by whole-number key. k orders the codes by day, site and time: the order of
# the visit table's (date, site) index; the visit id is made from it.
CODE_COLUMNS = (
    "(k INTEGER PRIMARY KEY, slot INT, day INT, site INT, minute INT, route INT, "
    "phone INT, wait_s INT, service_s INT{classes})"
)
CODES = """
INSERT INTO {table}
SELECT ((v.day * {sites} + v.site) << 32) | v.gi, v.slot, v.day, v.site, v.minute, r.key,
       v.phone < :phone,
       -- A citizen in person with an errand a queue here takes: the wait (the backlog's, and
       -- Erlang C's for those who wait at all) and the service, whole seconds.
       CASE WHEN r.queue IS NOT NULL AND v.phone >= :phone THEN w.behind_s +
           CASE WHEN v.wait_u < w.chance THEN w.mean_s * v.wait_f / 1000 ELSE 0 END END,
       CASE WHEN r.queue IS NOT NULL AND v.phone >= :phone THEN r.service_s * v.service_f / 1000
       END
       {classes}
FROM (
    SELECT s.slot, s.day, s.hour, s.weekday, s.bucket, s.first + c.k AS gi,
           (a.wait_u + b.wait_u) % 10000 AS wait_u,
           a.wait_f, b.service_f,
           CASE WHEN (a.site + b.site) % {scale} < s.first_cut THEN {first_site}
                WHEN (a.site + b.site) % {scale} < s.second_cut THEN {second_site}
                ELSE {third_site} END AS site,
           (a.minute + b.minute) % 60 AS minute,
           (a.errand + b.errand) % {bins} AS errand_bin,
           (a.phone + b.phone) % 100 AS phone,
           (a.postcode + b.postcode) % {bins} AS postcode_bin
    FROM demo_slot s
    CROSS JOIN demo_count c ON c.k < s.n
    CROSS JOIN demo_noise_a a ON a.r = (s.first + c.k) % {noise_a}
    CROSS JOIN demo_noise_b b ON b.r = (s.first + c.k) % {noise_b}
    WHERE s.slot >= :low AND s.slot < :high
) v
CROSS JOIN demo_open o ON o.key = (v.weekday * {sites} + v.site) * 1440 + v.hour * 60 + v.minute
CROSS JOIN demo_errand e ON e.key = v.bucket * {bins} + v.errand_bin
CROSS JOIN demo_postcode p ON p.bin = v.postcode_bin
CROSS JOIN demo_route r ON r.key = (e.errand * {sites} + v.site) * {postcodes} + p.postcode
CROSS JOIN demo_wait w ON w.key = v.slot * {sites} + v.site
{until}
"""

# 0…59, uniform: the visit's random minute, shifted by its number (so not the minute itself).
SPREAD = "((c.minute * 37 + c.k) % 60)"
VISITS = """
SELECT printf('%s%024x', :prefix, c.k), s.utc_prefix || printf('%02d:00.000000', c.minute),
       s.local_date, s.hour, s.weekday, r.site_id, r.desk,
       CASE WHEN c.phone THEN 'phone' ELSE 'in_person' END,
       r.outcome_id, r.destination_id, r.destinations, r.handled_here, r.path, r.postcode,
       r.postcode_site_id, :version,
       -- Seconds at the desk: the route's base (about 10 a question answered), and a long
       -- tail (a citizen with papers, a question to ask back) from a number 0…59 as random
       -- as the visit's minute.
       r.base_s + {u} * {u} * {u} / 900,
       1, c.wait_s, c.service_s
FROM {codes} c
CROSS JOIN demo_slot s ON s.slot = c.slot
CROSS JOIN demo_route r ON r.key = c.route
ORDER BY c.k
"""

# A ticket for every visit that has queue times; beside every NO_SHOW_EVERY-th, a citizen who
# took a ticket the same minute, waited as long, and did not come when called and recalled.
# Times to the minute (issued at the visit's minute, called after the wait, done after the
# service); past days' numbers are dropped (today's are given after the load: number_today).
TICKET_TIME = "strftime('%Y-%m-%d %H:%M:00.000000', {at}, printf('+%d seconds', {seconds}))"
TICKETS = """
SELECT s.local_date, s.hour, s.weekday, r.site_id, r.queue, r.outcome_id, t.state, r.desk,
       t.recalls, s.utc_prefix || printf('%02d:00.000000', c.minute) AS issued,
       {called}, {done}, c.wait_s, CASE WHEN t.state = 'served' THEN c.service_s END
FROM {codes} c
CROSS JOIN demo_slot s ON s.slot = c.slot
CROSS JOIN demo_route r ON r.key = c.route
CROSS JOIN (SELECT 'served' AS state, 0 AS recalls UNION ALL SELECT 'no_show', 1) t
WHERE c.service_s IS NOT NULL AND (t.state = 'served' OR c.k % {every} = 0)
""".format(
    called=TICKET_TIME.format(
        at="s.utc_prefix || printf('%02d:00.000000', c.minute)", seconds="c.wait_s"
    ),
    # A no-show is done two minutes after the call: one recall, then marked.
    done=TICKET_TIME.format(
        at="s.utc_prefix || printf('%02d:00.000000', c.minute)",
        seconds="c.wait_s + CASE WHEN t.state = 'served' THEN c.service_s ELSE 120 END",
    ),
    codes="{codes}",
    every=NO_SHOW_EVERY,
)
