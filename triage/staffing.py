"""Counters needed per site and hour: the Erlang C queue model.

Citizens arrive at random (λ per hour) and each takes on average `service_minutes` at a counter.
With N open counters, Erlang C gives the chance that a citizen has to wait at all, and from it
the share who wait less than a target time. The staffing table takes, for every site, weekday
and hour, the average arrivals over the chosen period and finds the fewest counters that reach
the target (by default 80 % served within 10 minutes).

Erlang B is computed by its recursion, which stays exact for hundreds of counters where the
textbook factorial formula overflows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_WAIT_MINUTES = 10.0
DEFAULT_WAIT_SHARE = 0.80
MOST_COUNTERS = 500  # a guard against nonsense input, far above any jobcentre


def erlang_b(counters: int, load: float) -> float:
    """Chance that all counters are busy in a system that turns arrivals away (Erlang B)."""
    blocked = 1.0
    for k in range(1, counters + 1):
        blocked = load * blocked / (k + load * blocked)
    return blocked


def erlang_c(counters: int, load: float) -> float:
    """Chance that an arriving citizen must wait (Erlang C); 1.0 when the queue never empties.
    `load` is the offered traffic in erlangs: arrivals per hour × service hours per citizen."""
    if load <= 0:
        return 0.0
    if counters <= load:
        return 1.0
    blocked = erlang_b(counters, load)
    return counters * blocked / (counters - load * (1 - blocked))


def served_within(counters: int, load: float, wait_minutes: float, service_minutes: float) -> float:
    """Share of citizens who wait less than `wait_minutes` with this many counters."""
    if load <= 0:
        return 1.0
    if counters <= load:
        return 0.0
    waits = erlang_c(counters, load)
    return 1 - waits * math.exp(-(counters - load) * wait_minutes / service_minutes)


@dataclass(frozen=True)
class Need:
    counters: int
    served_within: float  # the share waiting less than the target time at that many counters
    mean_wait_minutes: float


def counters_needed(
    arrivals_per_hour: float,
    service_minutes: float,
    wait_minutes: float = DEFAULT_WAIT_MINUTES,
    wait_share: float = DEFAULT_WAIT_SHARE,
) -> Need:
    """The fewest counters at which at least `wait_share` of citizens wait less than
    `wait_minutes`. No arrivals need no counters."""
    if arrivals_per_hour <= 0:
        return Need(0, 1.0, 0.0)
    load = arrivals_per_hour * service_minutes / 60
    counters = max(1, math.floor(load) + 1)
    while counters < MOST_COUNTERS:
        share = served_within(counters, load, wait_minutes, service_minutes)
        if share >= wait_share:
            break
        counters += 1
    else:
        share = served_within(counters, load, wait_minutes, service_minutes)
    mean_wait = erlang_c(counters, load) * service_minutes / (counters - load)
    return Need(counters, share, mean_wait)
