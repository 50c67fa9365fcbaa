"""The queues as data (data/queues.toml): which queues each site has, and which errands (outcome
ids of the flow) go to each. Read and checked like the other data files; plain Python."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from triage.model import Report, Text, check_fields, read_text, typed

if TYPE_CHECKING:
    from triage.flow import Flow

QUEUES_FILE = "queues.toml"
QUEUE_FIELDS = {"name", "errands"}
SITE_FIELDS = {"queues", "default"}
_LETTER = re.compile(r"[A-Z]")


@dataclass(frozen=True)
class Queue:
    letter: str  # what the citizen sees before the number: "A 042"
    name: Text
    errands: frozenset[str]


@dataclass(frozen=True)
class SiteQueues:
    letters: tuple[str, ...]
    default: str | None = None  # for an errand handled at the site that no queue lists


@dataclass(frozen=True)
class Queues:
    queues: dict[str, Queue]
    sites: dict[str, SiteQueues]

    def at(self, site: str) -> tuple[Queue, ...]:
        """The site's queues, in the order the file lists them (none: the site has no queue)."""
        found = self.sites.get(site)
        return tuple(self.queues[letter] for letter in found.letters) if found else ()

    def for_errand(self, site: str, errand: str) -> Queue | None:
        """The queue at the site an errand goes to, or None (the site has no queue for it)."""
        found = self.sites.get(site)
        if found is None:
            return None
        for letter in found.letters:
            if errand in self.queues[letter].errands:
                return self.queues[letter]
        return self.queues[found.default] if found.default else None


NO_QUEUES = Queues({}, {})


def label(letter: str, number: int) -> str:
    """A ticket as the citizen sees it: A 042 (three digits; more when a day needs more)."""
    return f"{letter} {number:03d}"


def parse_queues(raw: dict[str, Any], flow: Flow, report: Report, lines: dict[str, int]) -> Queues:
    """Read queues.toml (parsed TOML) against the flow's outcomes and sites, reporting every
    problem found."""
    check_fields(raw, {"queue", "site"}, report, QUEUES_FILE, QUEUES_FILE, None, lines)
    queues: dict[str, Queue] = {}
    raw_queues = typed(raw, "queue", "table", report, QUEUES_FILE, QUEUES_FILE, lines.get("queue"))
    for letter, body in (raw_queues or {}).items():
        queue = _parse_queue(letter, body, flow, report, lines.get(f"queue.{letter}"))
        if queue is not None:
            queues[letter] = queue
    sites: dict[str, SiteQueues] = {}
    raw_sites = typed(raw, "site", "table", report, QUEUES_FILE, QUEUES_FILE, lines.get("site"))
    for site_id, body in (raw_sites or {}).items():
        line = lines.get(f"site.{site_id}")
        found = _parse_site(site_id, body, queues, flow, report, line)
        if found is not None:
            sites[site_id] = found
    used = {letter for found in sites.values() for letter in found.letters}
    for letter in sorted(set(queues) - used):
        report.warning(QUEUES_FILE, f"queue {letter}", "queue_unused", lines.get(f"queue.{letter}"))
    return Queues(queues, sites)


def _parse_queue(
    letter: str, body: Any, flow: Flow, report: Report, line: int | None
) -> Queue | None:
    node = f"queue {letter}"
    if not _LETTER.fullmatch(letter):
        report.error(QUEUES_FILE, node, "queue_bad_letter", line, letter=letter)
        return None
    if not isinstance(body, dict):
        report.error(QUEUES_FILE, node, "not_table", line)
        return None
    check_fields(body, QUEUE_FIELDS, report, QUEUES_FILE, node, line)
    name = read_text(body.get("name"), report, QUEUES_FILE, node, "name", line)
    errands = typed(body, "errands", "id_list", report, QUEUES_FILE, node, line, required=True)
    for errand in errands or ():
        if errand not in flow.outcomes:
            report.error(QUEUES_FILE, node, "queue_unknown_errand", line, errand=errand)
    return Queue(letter, name, frozenset(errands or ()))


def _parse_site(
    site_id: str,
    body: Any,
    queues: dict[str, Queue],
    flow: Flow,
    report: Report,
    line: int | None,
) -> SiteQueues | None:
    node = f"site {site_id}"
    if site_id not in flow.sites.sites:
        report.error(QUEUES_FILE, node, "queue_unknown_site", line, site=site_id)
        return None
    if not isinstance(body, dict):
        report.error(QUEUES_FILE, node, "not_table", line)
        return None
    check_fields(body, SITE_FIELDS, report, QUEUES_FILE, node, line)
    letters = typed(body, "queues", "id_list", report, QUEUES_FILE, node, line, required=True)
    known = []
    for letter in letters or ():
        if letter not in queues:
            report.error(QUEUES_FILE, node, "queue_unknown_queue", line, queue=letter)
        elif letter in known:
            report.error(QUEUES_FILE, node, "queue_listed_twice", line, queue=letter)
        else:
            known.append(letter)
    # One errand, one queue: else a kiosk could not say where the citizen waits.
    seen: dict[str, str] = {}
    for letter in known:
        for errand in sorted(queues[letter].errands):
            if errand in seen:
                report.error(
                    QUEUES_FILE,
                    node,
                    "queue_errand_twice",
                    line,
                    errand=errand,
                    a=seen[errand],
                    b=letter,
                )
            else:
                seen[errand] = letter
    default = typed(body, "default", "id", report, QUEUES_FILE, node, line)
    if default is not None and default not in known:
        report.error(QUEUES_FILE, node, "queue_default_not_listed", line, queue=default)
        default = None
    return SiteQueues(tuple(known), default)


def read_queues(data_dir: Path, flow: Flow, report: Report) -> Queues:
    """data_dir's queues.toml against the flow; no file is no queues (not a problem)."""
    from triage.load import header_lines, read_toml

    path = data_dir / QUEUES_FILE
    if not path.exists():
        return NO_QUEUES
    raw, source = read_toml(path, report)
    if raw is None:
        return NO_QUEUES
    return parse_queues(raw, flow, report, header_lines(source))
