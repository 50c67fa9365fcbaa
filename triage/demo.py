"""Demo history: realistic, deterministic synthetic visits for trying the footfall views.

What it imitates (see the seed documents): most visits in the morning and early in the week,
none outside opening hours, a summer low and a Christmas dip, sick-pay errands growing over the
years, and Skelbækgade — the address everyone knew — drawing far more than its share at first
and less as word of the other sites spreads. Every row is marked demo.

The same seed gives the same visits. Rows are made one day at a time and written in batches,
so memory stays flat however many days are asked for.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone

from triage.flow import Flow
from triage.model import LOCAL_ZONE
from triage.search import ASK, routes_from_start
from triage.visits import FIELDS
from triage.walk import AnswerError, Result, route

DESK_SITES = ("jc-skelbaek", "jc-musvaage", "jc-nord")
HOUR_WEIGHT = {8: 0.6, 9: 1.4, 10: 1.6, 11: 1.4, 12: 1.0, 13: 1.0, 14: 0.8, 15: 0.6, 16: 0.5}
WEEKDAY_WEIGHT = (1.35, 1.05, 0.95, 1.0, 0.7, 0.0, 0.0)
# Where citizens live (postcodes by rough population), for errands that ask for a postcode.
POSTCODES = (("2200", 8), ("2300", 8), ("2400", 7), ("2450", 3), ("2500", 5), ("2100", 7),
             ("2150", 1), ("2700", 3), ("2720", 3), ("1050", 1), ("1360", 2), ("1620", 4),
             ("2000", 1), ("2610", 1))
ERRAND_WEIGHT = {  # outcome id → share of errands at the start of the period
    "sick_followup": 8, "sick_documents": 6, "sick_payment": 4, "sick_on_benefits": 2,
    "apply_benefits": 9, "benefit_payment": 8, "benefit_documents": 6, "benefit_complaint": 2,
    "special_support": 3, "dagpenge_payment": 2, "meeting": 14, "job_search": 7,
    "register_unemployed": 6, "dagpenge_meeting": 3, "flexjob": 2, "disability_pension": 2,
    "rehabilitation": 2, "integration_programme": 3, "danish_lessons": 2, "homeless": 1,
    "addiction": 1, "mental_health": 1, "family": 1, "violence": 1, "employer": 1,
    "health_card": 1, "passport": 1, "housing_benefit": 1, "udk_benefits": 1, "not_listed": 1,
}
SICK = {"sick_followup", "sick_documents", "sick_payment", "sick_on_benefits"}


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


class Routed:
    """One routing, with the text the visit row needs worked out once."""

    __slots__ = ("outcome", "destination", "destinations_text", "handled_here", "path_text",
                 "postcode", "postcode_site")

    def __init__(self, result: Result) -> None:
        self.outcome = result.outcome
        self.destination = result.destination
        self.destinations_text = ",".join(s.id for s in result.destinations)
        self.handled_here = result.handled_here
        self.path_text = " ".join(result.path)
        self.postcode = result.postcode
        self.postcode_site = (result.answered_site.id
                              if result.postcode and result.answered_site else None)


class DemoHistory:
    def __init__(self, flow: Flow, days: int, seed: int, per_day: int, end: date) -> None:
        self.flow = flow
        self.days = days
        self.seed = seed
        self.per_day = per_day
        self.end = end
        self.start = end - timedelta(days=days)
        self.random = random.Random(seed)
        routes = routes_from_start(flow)
        self.errands = [e for e in ERRAND_WEIGHT if e in flow.outcomes]
        self.answers = {e: routes[e] for e in self.errands}
        self.postcodes = [p for p, _ in POSTCODES]
        self.postcode_weights = [w for _, w in POSTCODES]
        self._results: dict[tuple, Routed] = {}
        self.count = 0

    def _result(self, errand: str, here: str) -> tuple[Routed, str | None]:
        """Route one errand at one site, with a postcode or a site choice where it asks."""
        choice = None
        answers = []
        for key in self.answers[errand]:
            if key == ASK:
                choice = self.random.choices(self.postcodes, self.postcode_weights)[0]
                answers.append(choice)
            else:
                answers.append(key)
        cache_key = (errand, here, tuple(answers))
        routed = self._results.get(cache_key)
        if routed is None:
            try:
                result = route(self.flow, answers, here)
            except AnswerError:  # a site question after ASK: pick the first site instead
                answers = ["1" if a == choice else a for a in answers]
                result = route(self.flow, answers, here)
            routed = Routed(result)
            self._results[cache_key] = routed
        return routed, choice

    def _weights(self, progress: float) -> list[float]:
        grow = 1 + 0.6 * progress  # sick-pay errands grow by 60 % over the period
        return [ERRAND_WEIGHT[e] * (grow if e in SICK else 1) for e in self.errands]

    def rows(self) -> Iterator[tuple]:
        """Visits as tuples in FIELDS order (as SQLite stores them), an hour at a time."""
        rnd = self.random
        version = self.flow.version
        sites = self.flow.sites
        prefix = f"{self.seed & 0xFFFFFFFF:08x}"
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            weekday = day.weekday()
            factor = WEEKDAY_WEIGHT[weekday] * season(day)
            if factor == 0:
                continue
            progress = offset / max(self.days - 1, 1)
            skew = skelbaek_share(progress)
            site_weights = [skew, (1 - skew) / 2, (1 - skew) / 2]
            errand_weights = self._weights(progress)
            local_date = day.isoformat()
            windows = {site: sites[site].windows_on(day) for site in DESK_SITES}
            for hour, hour_weight in HOUR_WEIGHT.items():
                expected = self.per_day * factor * hour_weight / sum(HOUR_WEIGHT.values())
                n = int(expected + rnd.random())
                if n == 0:
                    continue
                # Copenhagen is a whole number of hours from UTC: minutes carry over unchanged.
                utc = datetime.combine(day, time(hour), LOCAL_ZONE).astimezone(timezone.utc)
                utc_hour = utc.strftime("%Y-%m-%d %H:")
                at_site = rnd.choices(DESK_SITES, site_weights, k=n)
                minutes = rnd.choices(range(60), k=n)
                errands = rnd.choices(self.errands, errand_weights, k=n)
                phones = rnd.choices((True, False), (12, 88), k=n)
                for site, minute, errand, phone in zip(at_site, minutes, errands, phones):
                    moment = time(hour, minute)
                    if not any(a <= moment < b for a, b in windows[site]):
                        continue  # the doors are closed: nobody is registered
                    result, _ = self._result(errand, site)
                    self.count += 1
                    yield (
                        f"{prefix}{self.count:024x}", f"{utc_hour}{minute:02d}:00.000000", local_date,
                        hour, weekday, site, f"{site}-1", "phone" if phone else "in_person",
                        result.outcome.id, result.destination.id, result.destinations_text,
                        result.handled_here, result.path_text, result.postcode, result.postcode_site,
                        version, 30.0, True,
                    )

    def visits(self) -> Iterator[dict]:
        """The same visits as dicts (for the store's bulk insert on any engine)."""
        for row in self.rows():
            visit = dict(zip(FIELDS, row))
            visit["at_utc"] = visit["at_utc"].replace(" ", "T") + "+00:00"
            yield visit
