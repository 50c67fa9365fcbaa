"""The flow: questions with numbered options leading to outcomes, read from data/flow.toml.

A Flow is immutable once loaded and carries the sites it routes to; its version is a hash of
the content of both files, so a visit can record exactly which version routed it.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from triage.model import Report, Text, check_fields, read_text, shown, typed
from triage.sites import SPECIAL_DESTINATIONS, Sites

FLOW_FILE = "flow.toml"
MAX_KEY = 9
NO_ADDRESS_KEY = 0  # the key of a site question's answer for a citizen without a fixed address
NO_ADDRESS = "no_fixed_address"  # that answer's option id (in the visit's path)
MAX_WALK = 50  # questions on the longest walk from start to an outcome


@dataclass(frozen=True)
class Option:
    key: int
    id: str
    label: Text
    next: str
    kiosk: Text | None = None  # the citizen's own wording on the kiosk

    def citizen_label(self, lang: str) -> str:
        """What the kiosk shows: its own wording, else the desk's (a site's name fits both)."""
        return (self.kiosk or self.label)(lang)


@dataclass(frozen=True)
class PostcodeStep:
    catchment: str  # which catchment group the postcode is looked up in
    next: str  # where to go once the postcode is known
    declined: str  # where to go when the citizen will not give it


@dataclass(frozen=True)
class NoAddress:
    """A site question's answer for a citizen without a fixed address: a fixed site, or the
    site of a catchment group that covers the desk's own postcode (its district)."""

    label: Text
    site: str | None = None
    catchment: str | None = None


# Asked when a postcode question has no text of its own.
DEFAULT_POSTCODE_TEXT = Text(
    "Hvilket postnummer bor borgeren i?", "What is the citizen's postcode?"
)


@dataclass(frozen=True)
class Question:
    id: str
    text: Text
    help: Text | None
    options: tuple[Option, ...] = ()
    postcode: PostcodeStep | None = None
    picks_site: bool = False  # options are sites; the chosen one becomes "from_answer"
    keywords: tuple[str, ...] = ()  # extra words the errand search knows it by
    no_address: NoAddress | None = None  # site questions: key 0, no fixed address
    kiosk: Text | None = None  # the question as the kiosk asks the citizen ("du", not "borgeren")
    staff_only: bool = False  # only staff ask it: the kiosk sends the citizen to the desk

    def citizen_text(self, lang: str) -> str:
        """What the kiosk asks: its own wording, else the desk's."""
        return (self.kiosk or self.text)(lang)

    @property
    def asks_postcode(self) -> bool:
        return self.postcode is not None

    def option(self, key: int) -> Option | None:
        return next((o for o in self.options if o.key == key), None)

    def targets(self) -> list[str]:
        if self.postcode:
            return [self.postcode.next, self.postcode.declined]
        return [o.next for o in self.options]


@dataclass(frozen=True)
class Outcome:
    id: str
    title: Text
    destinations: tuple[str, ...]  # site ids, "from_answer" or "here", in the order to visit
    reason: Text
    bring: tuple[Text, ...]
    keywords: tuple[str, ...] = ()
    urgent: bool = False  # cannot wait: the card always names the after-hours help
    after_hours: tuple[str, ...] = ()  # ids of [after_hours.*] in sites.toml


@dataclass(frozen=True)
class Flow:
    start: str
    title: Text
    questions: dict[str, Question]
    outcomes: dict[str, Outcome]
    sites: Sites
    version: str  # sha256 of the content of flow.toml and sites.toml

    @property
    def short_version(self) -> str:
        return self.version[:12]

    def node(self, node_id: str) -> Question | Outcome:
        return self.questions.get(node_id) or self.outcomes[node_id]

    def successors(self, node_id: str) -> list[str]:
        question = self.questions.get(node_id)
        return question.targets() if question else []


def content_version(*parts: Any) -> str:
    """Hash of the parsed content: comments and layout may change, the version does not."""
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


QUESTION_FIELDS = {
    "text",
    "help",
    "options",
    "type",
    "catchment",
    "next",
    "declined",
    "sites",
    "keywords",
    "no_fixed_address",
    "kiosk",
    "staff_only",
}
OPTION_FIELDS = {"key", "id", "da", "en", "next", "kiosk"}
OUTCOME_FIELDS = {"title", "destination", "reason", "bring", "keywords", "urgent", "after_hours"}
NO_ADDRESS_FIELDS = {"da", "en", "site", "catchment"}


def _keywords(raw: Any, report: Report, node: str, line: int | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(k, str) and k.strip() for k in raw):
        report.error(FLOW_FILE, node, "bad_keywords", line)
        return ()
    return tuple(k.strip() for k in raw)


def _parse_option(raw: Any, report: Report, node: str, line: int | None) -> Option | None:
    if not isinstance(raw, dict):
        report.error(FLOW_FILE, node, "option_not_table", line)
        return None
    check_fields(raw, OPTION_FIELDS, report, FLOW_FILE, node, line)
    key = typed(raw, "key", "int", report, FLOW_FILE, node, line, required=True)
    if key is None:
        return None
    if not 1 <= key <= MAX_KEY:
        report.error(FLOW_FILE, node, "key_out_of_range", line, key=key)
        return None
    if "next" not in raw:
        report.error(FLOW_FILE, node, "option_no_next", line, key=key)
        return None
    target = typed(raw, "next", "id", report, FLOW_FILE, node, line)
    option_id = typed(raw, "id", "id", report, FLOW_FILE, node, line)
    if target is None or (option_id is None and "id" in raw):
        return None
    label = read_text(
        {k: v for k, v in raw.items() if k in ("da", "en")},
        report,
        FLOW_FILE,
        node,
        f"option {key}",
        line,
    )
    kiosk = _kiosk_text(raw, report, node, line, f"option {key} kiosk")
    return Option(key=key, id=option_id or target, label=label, next=target, kiosk=kiosk)


def _kiosk_text(
    raw: dict[str, Any], report: Report, node: str, line: int | None, what: str = "kiosk"
) -> Text | None:
    """The citizen's wording (`kiosk = { da = "...", en = "..." }`), None when not written."""
    if "kiosk" not in raw:
        return None
    return read_text(raw["kiosk"], report, FLOW_FILE, node, what, line)


def _parse_no_address(raw: Any, report: Report, node: str, line: int | None) -> NoAddress | None:
    if not isinstance(raw, dict):
        report.error(
            FLOW_FILE,
            node,
            "wrong_type",
            line,
            field=NO_ADDRESS,
            expected="table",
            value=shown(raw),
        )
        return None
    check_fields(raw, NO_ADDRESS_FIELDS, report, FLOW_FILE, node, line)
    label = read_text(
        {k: v for k, v in raw.items() if k in ("da", "en")},
        report,
        FLOW_FILE,
        node,
        NO_ADDRESS,
        line,
    )
    site = typed(raw, "site", "id", report, FLOW_FILE, node, line)
    group = typed(raw, "catchment", "id", report, FLOW_FILE, node, line)
    if (site is None) == (group is None):
        report.error(FLOW_FILE, node, "no_address_site_or_catchment", line)
        return None
    return NoAddress(label, site, group)


def _parse_question(
    qid: str, raw: Any, sites: Sites, report: Report, line: int | None
) -> Question | None:
    node = f"question {qid}"
    if not isinstance(raw, dict):
        report.error(FLOW_FILE, node, "not_table", line)
        return None
    check_fields(raw, QUESTION_FIELDS, report, FLOW_FILE, node, line)
    kind = typed(raw, "type", "id", report, FLOW_FILE, node, line) or "choice"
    if kind == "postcode" and "text" not in raw:
        text = DEFAULT_POSTCODE_TEXT
    else:
        text = read_text(raw.get("text"), report, FLOW_FILE, node, "text", line)
    help_text = (
        read_text(raw["help"], report, FLOW_FILE, node, "help", line) if "help" in raw else None
    )
    if NO_ADDRESS in raw and kind != "site":
        report.error(FLOW_FILE, node, "no_address_only_site", line)
    kiosk: dict[str, Any] = {
        "kiosk": _kiosk_text(raw, report, node, line),
        "staff_only": typed(raw, "staff_only", "bool", report, FLOW_FILE, node, line) or False,
    }
    if kind in ("postcode", "site"):
        target = typed(raw, "next", "id", report, FLOW_FILE, node, line, required=True) or ""
        if "options" in raw:
            report.error(FLOW_FILE, node, "options_not_allowed", line, type=kind)
    if kind == "postcode":
        group = typed(raw, "catchment", "id", report, FLOW_FILE, node, line, required=True) or ""
        declined = typed(raw, "declined", "id", report, FLOW_FILE, node, line) or target
        return Question(
            qid,
            text,
            help_text,
            postcode=PostcodeStep(group, target, declined),
            keywords=_keywords(raw.get("keywords"), report, node, line),
            **kiosk,
        )
    if kind == "site":
        site_ids = typed(raw, "sites", "id_list", report, FLOW_FILE, node, line, required=True)
        if site_ids == []:
            report.error(FLOW_FILE, node, "missing_field", line, field="sites")
        site_ids = site_ids or []
        if len(site_ids) > MAX_KEY:
            report.error(FLOW_FILE, node, "too_many_sites", line, count=len(site_ids), max=MAX_KEY)
        options = []
        for key, site_id in enumerate(site_ids[:MAX_KEY], 1):
            if site_id not in sites:
                report.error(FLOW_FILE, node, "unknown_destination", line, site=site_id)
                continue
            options.append(Option(key, site_id, sites[site_id].name, target))
        if not options:
            report.error(FLOW_FILE, node, "dead_end", line)
        no_address = None
        if NO_ADDRESS in raw:
            no_address = _parse_no_address(raw[NO_ADDRESS], report, node, line)
        if no_address is not None:  # listed last, under the districts, on key 0
            options.append(Option(NO_ADDRESS_KEY, NO_ADDRESS, no_address.label, target))
        return Question(
            qid,
            text,
            help_text,
            options=tuple(options),
            picks_site=True,
            keywords=_keywords(raw.get("keywords"), report, node, line),
            no_address=no_address,
            **kiosk,
        )
    if kind != "choice":
        report.error(FLOW_FILE, node, "bad_question_type", line, type=kind)
    raw_options = raw.get("options", [])
    if not isinstance(raw_options, list):
        report.error(FLOW_FILE, node, "option_not_table", line)
        raw_options = []
    options = []
    for raw_option in raw_options:
        option = _parse_option(raw_option, report, node, line)
        if option is None:
            continue
        if any(o.key == option.key for o in options):
            report.error(FLOW_FILE, node, "duplicate_key", line, key=option.key)
            continue
        if any(o.id == option.id for o in options):
            report.error(FLOW_FILE, node, "duplicate_option_id", line, id=option.id)
            continue
        options.append(option)
    if not options:
        report.error(FLOW_FILE, node, "dead_end", line)
    return Question(
        qid,
        text,
        help_text,
        options=tuple(sorted(options, key=lambda o: o.key)),
        keywords=_keywords(raw.get("keywords"), report, node, line),
        **kiosk,
    )


def _parse_outcome(oid: str, raw: Any, report: Report, line: int | None) -> Outcome | None:
    node = f"outcome {oid}"
    if not isinstance(raw, dict):
        report.error(FLOW_FILE, node, "not_table", line)
        return None
    check_fields(raw, OUTCOME_FIELDS, report, FLOW_FILE, node, line)
    destination = raw.get("destination")
    if isinstance(destination, str):
        destinations: tuple[str, ...] = (destination,)
    elif (
        isinstance(destination, list)
        and destination
        and all(isinstance(d, str) for d in destination)
    ):
        destinations = tuple(destination)
    elif destination is None or destination == []:
        report.error(FLOW_FILE, node, "no_destination", line)
        destinations = ()
    else:
        report.error(
            FLOW_FILE,
            node,
            "wrong_type",
            line,
            field="destination",
            expected="destination",
            value=shown(destination),
        )
        destinations = ()
    urgent = typed(raw, "urgent", "bool", report, FLOW_FILE, node, line) or False
    after_hours = typed(raw, "after_hours", "id_list", report, FLOW_FILE, node, line) or []
    bring_raw = raw.get("bring", [])
    if not isinstance(bring_raw, list):
        report.error(FLOW_FILE, node, "bring_not_list", line)
        bring_raw = []
    return Outcome(
        id=oid,
        title=read_text(raw.get("title"), report, FLOW_FILE, node, "title", line),
        destinations=destinations,
        reason=read_text(raw.get("reason"), report, FLOW_FILE, node, "reason", line),
        bring=tuple(
            read_text(item, report, FLOW_FILE, node, f"bring {i}", line)
            for i, item in enumerate(bring_raw, 1)
        ),
        keywords=_keywords(raw.get("keywords"), report, node, line),
        urgent=urgent,
        after_hours=tuple(a.strip() for a in after_hours),
    )


def parse_flow(
    raw: dict[str, Any], sites: Sites, report: Report, lines: dict[str, int], version: str
) -> Flow:
    """Read flow.toml (already parsed TOML) into a Flow and check how its nodes connect."""
    check_fields(raw, {"flow", "question", "outcome"}, report, FLOW_FILE, "flow.toml", None, lines)
    head = typed(raw, "flow", "table", report, FLOW_FILE, "flow.toml", lines.get("flow")) or {}
    check_fields(head, {"start", "title"}, report, FLOW_FILE, "flow", lines.get("flow"))
    title = read_text(head.get("title"), report, FLOW_FILE, "flow", "title", lines.get("flow"))

    questions: dict[str, Question] = {}
    raw_questions = (
        typed(raw, "question", "table", report, FLOW_FILE, "flow.toml", lines.get("question")) or {}
    )
    raw_outcomes = (
        typed(raw, "outcome", "table", report, FLOW_FILE, "flow.toml", lines.get("outcome")) or {}
    )
    for qid, body in raw_questions.items():
        question = _parse_question(qid, body, sites, report, lines.get(f"question.{qid}"))
        if question:
            questions[qid] = question
    outcomes: dict[str, Outcome] = {}
    for oid, body in raw_outcomes.items():
        if oid in questions:
            report.error(
                FLOW_FILE, f"outcome {oid}", "duplicate_id", lines.get(f"outcome.{oid}"), id=oid
            )
            continue
        outcome = _parse_outcome(oid, body, report, lines.get(f"outcome.{oid}"))
        if outcome:
            outcomes[oid] = outcome

    start = typed(head, "start", "id", report, FLOW_FILE, "flow", lines.get("flow"), required=True)
    if start is not None and start not in questions:
        report.error(FLOW_FILE, "flow", "bad_start", lines.get("flow"), start=start)
    if start not in questions:
        start = next(iter(questions), "")
    flow = Flow(start, title, questions, outcomes, sites, version)
    check_graph(flow, report, lines)
    return flow


def check_graph(flow: Flow, report: Report, lines: dict[str, int]) -> None:
    """Targets, reachability, cycles and destinations: what makes a flow walkable end to end."""
    known = set(flow.questions) | set(flow.outcomes)

    def where(node_id: str) -> tuple[str, int | None]:
        kind = "question" if node_id in flow.questions else "outcome"
        return f"{kind} {node_id}", lines.get(f"{kind}.{node_id}")

    for q in flow.questions.values():
        node, line = where(q.id)
        if q.postcode:
            for field_name in ("next", "declined"):
                target = getattr(q.postcode, field_name)
                if target and target not in known:
                    report.error(
                        FLOW_FILE, node, "unknown_target", line, target=target, via=field_name
                    )
            if q.postcode.catchment and q.postcode.catchment not in flow.sites.catchments:
                report.error(
                    FLOW_FILE,
                    node,
                    "unknown_catchment",
                    line,
                    group=q.postcode.catchment,
                    groups=", ".join(flow.sites.catchments) or "-",
                )
        for option in q.options:
            if option.next not in known:
                report.error(
                    FLOW_FILE, node, "unknown_target", line, target=option.next, via=f"{option.key}"
                )

    for o in flow.outcomes.values():
        node, line = where(o.id)
        for destination in o.destinations:
            if destination not in flow.sites and destination not in SPECIAL_DESTINATIONS:
                report.error(FLOW_FILE, node, "unknown_destination", line, site=destination)
        for help_id in o.after_hours:
            if help_id not in flow.sites.after_hours:
                report.error(
                    FLOW_FILE,
                    node,
                    "unknown_after_hours",
                    line,
                    id=help_id,
                    known=", ".join(flow.sites.after_hours) or "-",
                )
        if o.urgent and not o.after_hours:
            report.error(FLOW_FILE, node, "urgent_without_after_hours", line)
    check_no_address(flow, report, where)
    check_kiosk_wording(flow, report, where)

    if not flow.start:
        return
    reachable = _reachable(flow, flow.start, known)
    for node_id in list(flow.questions) + list(flow.outcomes):
        if node_id not in reachable:
            node, line = where(node_id)
            report.error(FLOW_FILE, node, "unreachable", line)

    cycles = find_cycles(flow, known)
    for cycle in cycles:
        node, line = where(cycle[0])
        report.error(FLOW_FILE, node, "cycle", line, path=" → ".join(cycle))
    # A walk longer than anyone answers at a desk is a mistake (and too long to draw).
    if not cycles and (length := longest_path(flow)) > MAX_WALK:
        report.error(
            FLOW_FILE, "flow", "walk_too_long", lines.get("flow"), length=length, max=MAX_WALK
        )

    # "from_answer" needs a postcode or site question on every path before it.
    unanswered = _reachable(flow, flow.start, known, stop_at_site_answers=True)
    for o in flow.outcomes.values():
        if "from_answer" in o.destinations and o.id in unanswered:
            node, line = where(o.id)
            report.error(FLOW_FILE, node, "from_answer_unanswered", line)


def check_no_address(flow: Flow, report: Report, where: Any) -> None:
    """A no-fixed-address answer must lead to a site, at least from the default desk."""
    sites = flow.sites
    for q in flow.questions.values():
        answer = q.no_address
        if answer is None:
            continue
        node, line = where(q.id)
        if answer.site is not None and answer.site not in sites:
            report.error(FLOW_FILE, node, "unknown_destination", line, site=answer.site)
        elif answer.catchment is not None and answer.catchment not in sites.catchments:
            report.error(
                FLOW_FILE,
                node,
                "unknown_catchment",
                line,
                group=answer.catchment,
                groups=", ".join(sites.catchments) or "-",
            )
        elif answer.catchment is not None and sites.default_site in sites:
            district = sites.district_of(sites[sites.default_site], answer.catchment)
            if district is None:
                report.error(
                    FLOW_FILE,
                    node,
                    "no_address_no_district",
                    line,
                    site=sites.default_site,
                    group=answer.catchment,
                )


def kiosk_questions(flow: Flow) -> list[str]:
    """The questions a citizen can reach on the kiosk: from the start, not past a question
    only staff ask (there the kiosk sends the citizen to the desk)."""
    seen, queue = {flow.start}, deque([flow.start])
    while queue:
        question = flow.questions.get(queue.popleft())
        if question is None or question.staff_only:
            continue
        for target in question.targets():
            if target in flow.questions and target not in seen:
                seen.add(target)
                queue.append(target)
    return [q for q in flow.questions if q in seen]


def check_kiosk_wording(flow: Flow, report: Report, where: Any) -> None:
    """Once a flow has any kiosk wording, every question the kiosk can show needs its own
    (the desk's wording speaks of "borgeren"): a warning names each one without."""
    written = any(
        q.kiosk is not None or any(o.kiosk is not None for o in q.options)
        for q in flow.questions.values()
    )
    if not written or not flow.start:
        return
    for qid in kiosk_questions(flow):
        question = flow.questions[qid]
        if question.staff_only:
            continue
        node, line = where(qid)
        if question.kiosk is None:
            report.warning(FLOW_FILE, node, "kiosk_text_missing", line)
        if not question.picks_site:  # a site's name is the same for citizen and staff
            keys = [str(o.key) for o in question.options if o.kiosk is None]
            if keys:
                report.warning(
                    FLOW_FILE,
                    node,
                    "kiosk_options_missing",
                    line,
                    keys=", ".join(keys),
                    n=len(keys),
                )


def check_sites_against_flow(flow: Flow, report: Report, site_lines: dict[str, int]) -> None:
    """Warnings on what sites.toml says about the flow: a note meant for outcomes the flow does
    not have (it would never show), and a site a citizen is sent to without street or phone."""
    from triage.sites import SITES_FILE

    for site in flow.sites:
        unknown = [o for o in site.note_for if o not in flow.outcomes]
        if unknown:
            report.warning(
                SITES_FILE,
                f"site {site.id}",
                "note_for_unknown",
                site_lines.get(f"site.{site.id}"),
                outcomes=", ".join(unknown),
            )
    for site_id in referral_sites(flow):
        site = flow.sites[site_id]
        if not site.has_street and not site.phone.strip():
            report.warning(
                SITES_FILE,
                f"site {site_id}",
                "no_street_or_phone",
                site_lines.get(f"site.{site_id}"),
            )


def referral_sites(flow: Flow) -> list[str]:
    """Every site a card can send a citizen to: named destinations, sites to choose from, and
    the sites of the catchments that postcode questions look up."""
    sites = flow.sites
    found: list[str] = []
    for o in flow.outcomes.values():
        found += [d for d in o.destinations if d not in SPECIAL_DESTINATIONS]
    for q in flow.questions.values():
        if q.picks_site:
            found += [o.id for o in q.options if o.id in sites]
        if q.no_address is not None and q.no_address.site:
            found.append(q.no_address.site)
        if q.postcode and q.postcode.catchment in sites.catchments:
            found += [site for _, _, site in sites.catchments[q.postcode.catchment].ranges]
            found += [sites.outside] if sites.outside else []
    return [site for site in dict.fromkeys(found) if site in sites]


def _reachable(
    flow: Flow, start: str, known: set[str], stop_at_site_answers: bool = False
) -> set[str]:
    """Nodes reachable from start; optionally not past questions that answer with a site."""
    seen = {start}
    queue = deque([start])
    while queue:
        node_id = queue.popleft()
        question = flow.questions.get(node_id)
        if question is None:
            continue
        if stop_at_site_answers and (question.postcode or question.picks_site):
            continue
        for target in question.targets():
            if target in known and target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def find_cycles(flow: Flow, known: set[str]) -> list[list[str]]:
    """Each distinct cycle once, as its nodes in order with the first repeated: a → b → a.
    Depth first with its own stack, so a chain of thousands of questions cannot overflow."""
    cycles: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []
    for root in [flow.start, *flow.questions]:
        if not root or root in state:
            continue
        state[root] = 1
        path.append(root)
        pending = [iter(flow.successors(root))]
        while pending:
            target = next(pending[-1], None)
            if target is None:
                pending.pop()
                state[path.pop()] = 2
            elif target not in known:
                continue
            elif state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                key = frozenset(cycle)
                if key not in seen_sets:
                    seen_sets.add(key)
                    cycles.append(cycle)
            elif target not in state:
                state[target] = 1
                path.append(target)
                pending.append(iter(flow.successors(target)))
    return cycles


def longest_path(flow: Flow) -> int:
    """Most answers any walk can take (the flow is acyclic once validated)."""
    memo: dict[str, int] = {}
    stack: list[tuple[str, bool]] = [(flow.start, False)]
    while stack:
        node_id, children_done = stack.pop()
        if node_id not in flow.questions:
            continue
        if children_done:
            memo[node_id] = 1 + max((memo.get(t, 0) for t in flow.successors(node_id)), default=0)
        elif node_id not in memo:
            memo[node_id] = 0  # guards against a cycle in an unvalidated flow
            stack.append((node_id, True))
            stack.extend((t, False) for t in flow.successors(node_id) if t not in memo)
    return memo.get(flow.start, 0)
