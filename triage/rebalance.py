"""A catchment proposal: which postcodes to move between jobcentres so their load evens out.

The model, in words a planner can check:
- a postcode's demand is the visits, in the chosen period, by citizens who gave that postcode
  for a jobcentre errand, wherever they were registered;
- a jobcentre's expected load is its fixed load (its visits that no jobcentre postcode ties to
  it: errands without a postcode, or chosen by the citizen) plus the demand of every postcode in
  its catchment, as if citizens went where their postcode says;
- its ratio is expected load ÷ capacity (counters, from the sites file);
- a postcode may only move to a jobcentre where citizens from that postcode were already
  registered in the period: proof that they can and do get there;
- the proposal tries every set of 1, 2, 3 … moves (while the sets are few enough to try all,
  and at most `max_moves`), takes for each number of moves the set that gives the lowest
  highest ratio (ties: the ratios closest together), and proposes the fewest moves that come
  within `min_gain` of the lowest found. Trying sets, not one move at a time, matters: two
  small moves together can beat the one big move that looks best on its own.

The postcodes move within one catchment group, read from the data by what it holds, never by
its name: the group that sends postcodes to the most jobcentres (the first written on a tie).

Per hour of the day: the load before is counted (a site's fixed visits in that hour plus the
visits in that hour of citizens whose postcode, as recorded at the visit, belongs to it); the log
keeps postcodes per day, not per hour, so a moved postcode's visits are spread over the hours as
the visits from its old jobcentre's whole catchment are. The day's totals add up to the site's.

Plain Python; writing the proposal is a changed copy of the data folder, checked by the same
validator as `triage validate`, with the proposal for the meeting beside it (forslag.md and
forslag.csv). The TOML files are edited with tomlkit, which keeps comments and layout; the copy
is made in memory and read back first, and written to a temporary folder that then takes the
place of `out_dir`, so a refusal or a full disk leaves nothing half-written.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import re
import secrets
import shutil
import tomllib
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from triage.errors import CodedError
from triage.i18n import count, t
from triage.load import headers
from triage.sites import Sites

SEARCH_LIMIT = 200_000  # sets of moves tried for one number of moves (well under a second)
PROPOSAL_TEXT = "forslag.md"  # the proposal for the meeting; a folder with it is a proposal
PROPOSAL_CSV = "forslag.csv"
# A postcode with fewer visits than this in the period is never moved: so few visits do not
# show where its citizens go (a day's log would otherwise move postcodes on one or two visits).
MIN_VISITS_TO_MOVE = 30


class RebalanceError(CodedError):
    """A proposal that cannot be made or written; `code` names the i18n message."""


def jobcentre_group(sites: Sites) -> str:
    """The catchment group the proposal moves postcodes in (see the module's docstring)."""
    counts = {
        group: len({s for _, _, s in catchment.ranges if sites[s].kind == "jobcenter"})
        for group, catchment in sites.catchments.items()
    }
    best = max(counts, key=lambda group: counts[group], default=None)  # the first on a tie
    if best is None or not counts[best]:
        raise RebalanceError("reb_no_group")
    return best


@dataclass(frozen=True)
class Move:
    postcode: int
    source: str
    target: str
    visits: int
    went_to: tuple[tuple[str, int], ...] = ()  # where these citizens were registered: site, visits


@dataclass
class Proposal:
    capacity: dict[str, int]
    before: dict[str, float]  # site → expected load today
    after: dict[str, float]  # site → expected load with the moves
    moves: list[Move] = field(default_factory=list)
    group: str = ""  # the catchment group the moves are made in
    homes: frozenset[str] = frozenset()  # the group's sites: a postcode recorded for them moves
    movable: int = 0  # postcodes tried: each has a jobcentre to move to and enough visits
    too_few: int = 0  # postcodes with a jobcentre to move to but too few visits to be tried
    min_visits: int = MIN_VISITS_TO_MOVE  # the fewest visits a postcode is moved on

    def ratio(self, loads: dict[str, float]) -> dict[str, float]:
        return {s: loads[s] / self.capacity[s] for s in self.capacity}

    @property
    def max_before(self) -> float:
        return max(self.ratio(self.before).values(), default=0.0)

    @property
    def max_after(self) -> float:
        return max(self.ratio(self.after).values(), default=0.0)


def _score(loads: dict[str, float], capacity: dict[str, int]) -> tuple[float, float]:
    ratios = [loads[s] / capacity[s] for s in capacity]
    mean = sum(ratios) / len(ratios)
    return max(ratios), sum((r - mean) ** 2 for r in ratios)


def propose(
    sites: Sites,
    per_postcode: dict[tuple[int, str, str], int],
    per_site: dict[str, int],
    max_moves: int = 10,
    min_gain: float = 0.005,
    min_visits: int = MIN_VISITS_TO_MOVE,
) -> Proposal:
    """per_postcode: visits per (postcode, recorded home site, visited site), as
    triage.stats.postcode_counts gives; per_site: all visits per visited site. A postcode with
    fewer than `min_visits` visits is not moved (counted in `too_few`).
    RebalanceError when no catchment group sends postcodes to jobcentres."""
    group = jobcentre_group(sites)
    catchment = sites.catchments[group]
    group_sites = frozenset(s for _, _, s in catchment.ranges)
    capacity = {
        s.id: s.capacity
        for s in sites
        if s.kind == "jobcenter" and s.id in group_sites and s.capacity
    }
    demand: dict[int, int] = {}
    seen_at: dict[int, dict[str, int]] = {}
    tied: dict[str, int] = {}
    for (postcode, home, visited), visits in per_postcode.items():
        if home not in group_sites:
            continue  # a social centre's postcode: says nothing about jobcentre catchments
        demand[postcode] = demand.get(postcode, 0) + visits
        seen_at.setdefault(postcode, {})
        seen_at[postcode][visited] = seen_at[postcode].get(visited, 0) + visits
        tied[visited] = tied.get(visited, 0) + visits
    assignment = {p: catchment.site_for(p) for p in demand}
    loads = {s: float(per_site.get(s, 0) - tied.get(s, 0)) for s in capacity}
    for postcode, site in assignment.items():
        if site in loads:
            loads[site] += demand[postcode]
    proposal = Proposal(
        capacity, dict(loads), dict(loads), group=group, homes=group_sites, min_visits=min_visits
    )
    if len(capacity) < 2:
        return proposal

    def went_to(postcode: int) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(seen_at[postcode].items(), key=lambda kv: (-kv[1], kv[0])))

    possible = [
        Move(p, source, target, demand[p], went_to(p))
        for p, source in sorted(assignment.items())
        if source is not None and source in capacity
        for target in sorted(seen_at[p])
        if target != source and target in capacity
    ]
    candidates = [m for m in possible if m.visits >= min_visits]
    proposal.movable = len({m.postcode for m in candidates})
    proposal.too_few = len({m.postcode for m in possible}) - proposal.movable

    def after(moves: tuple[Move, ...]) -> dict[str, float]:
        trial = dict(loads)
        for move in moves:
            trial[move.source] -= move.visits
            trial[move.target] += move.visits
        return trial

    # Every set of k moves, k = 1, 2, … while the sets stay few enough to try them all.
    best: list[tuple[tuple[float, float], tuple[Move, ...]]] = [(_score(loads, capacity), ())]
    for k in range(1, max_moves + 1):
        if math.comb(len(candidates), k) > SEARCH_LIMIT:
            break
        found = None
        for moves in itertools.combinations(candidates, k):
            if len({m.postcode for m in moves}) < k:
                continue  # one postcode cannot go two ways
            score = _score(after(moves), capacity)
            if found is None or score < found[0]:
                found = (score, moves)
        if found is None:
            break
        best.append(found)
    lowest = min(score[0] for score, _ in best)
    # The fewest moves that come within min_gain of the lowest highest ratio found.
    chosen = next(moves for score, moves in best if score[0] <= lowest * (1 + min_gain))
    proposal.moves = list(chosen)
    proposal.after = after(chosen)
    return proposal


# --- writing the changed copy ----------------------------------------------------------


def _ranges(postcodes: list[int]) -> list[str]:
    """Sorted postcodes as the sites file writes them: "1000-1499", "2300"."""
    out: list[tuple[int, int]] = []
    for p in sorted(postcodes):
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return [f"{a:04d}" if a == b else f"{a:04d}-{b:04d}" for a, b in out]


def changed_catchment(
    sites: Sites, moves: list[Move], group: str | None = None
) -> dict[str, list[str]]:
    """site → its new list of ranges, for the sites whose catchment changes."""
    catchment = sites.catchments[group or jobcentre_group(sites)]
    changed = {m.source for m in moves} | {m.target for m in moves}
    moved = {m.postcode: m.target for m in moves}
    result = {}
    for site in sorted(changed):
        mine = [
            p
            for lo, hi, s in catchment.ranges
            if s == site
            for p in range(lo, hi + 1)
            if p not in moved
        ]
        mine += [p for p, target in moved.items() if target == site]
        result[site] = _ranges(mine)
    return result


# --- per hour of the day ---------------------------------------------------------------


def hourly_loads(
    proposal: Proposal, per_hour: dict[tuple[str, str, int], int]
) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, float]]]:
    """(before, after): site → hour → expected visits, from visits per (visited site, home site
    as recorded, hour); see the module's docstring for how a moved postcode's visits are spread."""
    fixed: dict[str, dict[int, float]] = {s: {} for s in proposal.capacity}
    demand: dict[str, dict[int, float]] = {}
    for (visited, home, hour), visits in per_hour.items():
        if home in proposal.homes:
            by_hour = demand.setdefault(home, {})
            by_hour[hour] = by_hour.get(hour, 0) + visits
        elif visited in fixed:
            fixed[visited][hour] = fixed[visited].get(hour, 0) + visits
    before: dict[str, dict[int, float]] = {
        site: {
            hour: fixed[site].get(hour, 0.0) + demand.get(site, {}).get(hour, 0.0)
            for hour in sorted(set(fixed[site]) | set(demand.get(site, {})))
        }
        for site in proposal.capacity
    }
    after = {site: dict(hours) for site, hours in before.items()}
    for move in proposal.moves:
        profile = demand.get(move.source, {})
        total = sum(profile.values())
        for hour, share in profile.items():
            moved = move.visits * share / total
            after[move.source][hour] = after[move.source].get(hour, 0) - moved
            after[move.target][hour] = after[move.target].get(hour, 0) + moved
    return before, after


@dataclass(frozen=True)
class Tally:
    """How each jobcentre's visits counted in the log become its expected visits today:
    expected = counted - other_municipality - to_other + from_other (postcodes as recorded)."""

    counted: dict[str, int]  # registered at the site: what `triage summary` counts
    no_postcode: dict[str, int]  # of those, without a postcode: they stay where they came
    other_municipality: dict[str, int]  # postcode in another municipality: left out
    to_other: dict[str, int]  # postcode in another jobcentre's area: counted there instead
    from_other: dict[str, int]  # postcode here, registered at another site: counted here
    hours: dict[str, dict[int, int]]  # counted, per hour of the day


def tally(proposal: Proposal, per_hour: dict[tuple[str, str, int], int]) -> Tally:
    """The counts behind the expected visits, from visits per (visited site, home site as
    recorded, hour)."""
    sites = proposal.capacity
    found = Tally({s: 0 for s in sites}, {}, {}, {}, {}, {s: {} for s in sites})
    for (visited, home, hour), visits in per_hour.items():

        def add(part: dict[str, int], site: str) -> None:
            part[site] = part.get(site, 0) + visits  # noqa: B023 (used at once)

        if visited in sites:
            add(found.counted, visited)
            found.hours[visited][hour] = found.hours[visited].get(hour, 0) + visits
            if not home:
                add(found.no_postcode, visited)
            elif home in proposal.homes and home not in sites:
                add(found.other_municipality, visited)
            elif home in sites and home != visited:
                add(found.to_other, visited)
        if home in sites and home != visited:
            add(found.from_other, home)
    return found


# --- writing the changed copy and the proposal -----------------------------------------


@dataclass(frozen=True)
class Context:
    """What the proposal file says besides the figures: where they come from."""

    start: date  # the period's first day
    end: date  # its last day, included
    include_demo: bool
    made: date
    lang: str = "da"


def write_proposal(
    data_dir: Path,
    out_dir: Path,
    sites: Sites,
    proposal: Proposal,
    context: Context,
    per_hour: dict[tuple[str, str, int], int],
    force: bool = False,
) -> list[str]:
    """Copy the data folder to `out_dir` with the moves applied to sites.toml (cases whose
    expected site was a moved postcode's old jobcentre expect the new one), and the proposal
    (PROPOSAL_TEXT, PROPOSAL_CSV) beside them. Returns the names of the cases changed.
    RebalanceError, with nothing written, when the files cannot be edited safely, `out_dir` is
    the data folder itself, or `out_dir` exists and `force` is not given (or it is not an
    earlier proposal). OSError, with nothing written, names the file in `out_dir` it failed on."""
    group = proposal.group or jobcentre_group(sites)
    moves = proposal.moves
    if out_dir.resolve() == data_dir.resolve() or out_dir.resolve() in data_dir.resolve().parents:
        raise RebalanceError("reb_out_is_data", out=out_dir)
    _check_replaceable(out_dir, force)
    text = (data_dir / "sites.toml").read_text(encoding="utf-8-sig")
    note = "".join(
        f"# triage rebalance {context.made.isoformat()}: {m.postcode} flyttet fra {m.source} "
        f"til {m.target} ({m.visits} besøg i perioden)\n"
        for m in moves
    )
    new_sites = _edit_catchment(text, group, changed_catchment(sites, moves, group), note)
    cases_path = data_dir / "cases.toml"
    new_cases: str | None = None
    changed: list[str] = []
    if cases_path.exists() and moves:
        new_cases, changed = _edit_cases(cases_path.read_text(encoding="utf-8-sig"), moves)
    # Everything is known to be right: only now is anything written.
    files = {
        path.name: path.read_bytes()
        for path in sorted(data_dir.iterdir())
        if path.is_file() and path.suffix in (".toml", ".json")
    }
    files["sites.toml"] = new_sites.encode("utf-8")
    if new_cases is not None:
        files["cases.toml"] = new_cases.encode("utf-8")
    before_hour, after_hour = hourly_loads(proposal, per_hour)
    counts = tally(proposal, per_hour)
    files[PROPOSAL_TEXT] = proposal_text(
        sites, proposal, context, before_hour, after_hour, changed, counts
    ).encode("utf-8")
    files[PROPOSAL_CSV] = proposal_csv(
        sites, proposal, context, before_hour, after_hour, counts
    ).encode("utf-8")
    _write_folder(out_dir, files)
    return changed


def _check_replaceable(out_dir: Path, force: bool) -> None:
    """An existing `out_dir` is replaced only with `force`, and only when it is an earlier
    proposal (or empty): never a folder of other things, whatever --out says."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise RebalanceError("reb_out_not_folder", out=out_dir)
    if not force:
        raise RebalanceError("reb_out_exists", out=out_dir)
    inside = list(out_dir.iterdir())
    ours = (out_dir / PROPOSAL_TEXT).is_file() and all(p.is_file() for p in inside)
    if inside and not ours:
        raise RebalanceError("reb_out_not_proposal", out=out_dir)


def _write_folder(out_dir: Path, files: dict[str, bytes]) -> None:
    """Write every file into a new folder beside `out_dir`, then put it in `out_dir`'s place
    (an earlier proposal there is removed only after that): a full disk or a refusal leaves
    `out_dir` as it was and no folder this made. An OSError names the file in `out_dir` it
    was writing."""
    made = [folder for folder in out_dir.parents if not folder.exists()]
    name = ""
    fresh = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(4)}.ny")
    old = out_dir.with_name(f".{out_dir.name}.{secrets.token_hex(4)}.gammel")
    moved_away = False
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        fresh.mkdir()
        for name, content in files.items():
            with open(fresh / name, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
        name = ""
        if out_dir.exists():
            os.rename(out_dir, old)
            moved_away = True
        os.rename(fresh, out_dir)
    except OSError as error:
        with suppress(OSError):
            shutil.rmtree(fresh)
        if moved_away:
            with suppress(OSError):
                os.rename(old, out_dir)
        for folder in made:  # the innermost first
            with suppress(OSError):
                folder.rmdir()
        target = out_dir / name if name else out_dir
        raise OSError(error.errno, error.strerror, str(target)) from error
    if moved_away:
        shutil.rmtree(old, ignore_errors=True)


_ELEMENT_LINE = re.compile(r"""^\s*["']?([0-9-]+)["']?\s*,?\s*(#.*)?$""")


def _bounds(postcodes: str) -> tuple[int, int]:
    """The first and last postcode of "2300" or "1000-1799"."""
    low, _, high = postcodes.partition("-")
    return int(low), int(high or low)


def _array(ranges: list[str], like: object) -> Any:
    """The new value of a site's catchment as a TOML array written like the one it replaces:
    on one line, or one range a line with the same indent when that one spans lines, keeping
    its comment lines (at the top) and the comment after each range that stays."""
    written = like.as_string() if isinstance(like, tomlkit.items.Array) else ""
    if "\n" not in written or not ranges:
        return tomlkit.parse("v = [" + ", ".join(f'"{r}"' for r in ranges) + "]\n")["v"]
    inner = written.split("\n")[1:-1]
    first = next((line for line in inner if line.strip()), "  ")
    indent = first[: len(first) - len(first.lstrip(" \t"))]
    notes = [f"{indent}{line.strip()}\n" for line in inner if line.strip().startswith("#")]
    after: dict[str, str] = {}
    for line in inner:
        found = _ELEMENT_LINE.match(line)
        if found and found.group(2):
            after[found.group(1)] = f"  {found.group(2)}"
    kept = set()

    def comment(r: str) -> str:
        """A range's own comment, or, for the first piece of a range split by a move, the
        comment of the range it was cut from."""
        if r in after:
            return after[r]
        low, high = _bounds(r)
        for old, note in after.items():
            old_low, old_high = _bounds(old)
            if old not in ranges and old not in kept and old_low <= low and high <= old_high:
                kept.add(old)
                return note
        return ""

    body = "".join(notes) + "".join(f'{indent}"{r}",{comment(r)}\n' for r in ranges)
    return tomlkit.parse(f"v = [\n{body}]\n")["v"]


def _edit_catchment(text: str, group: str, new_ranges: dict[str, list[str]], note: str) -> str:
    """sites.toml with the catchment group's values for the changed sites replaced, everything
    else as it was to the byte (tomlkit), and `note` as comment lines above the group's header
    (or [catchment]'s, for a group written inside it). Checked by reading it back: every other
    value must be as it was."""
    refused = RebalanceError("reb_cannot_edit_sites", group=group)
    try:
        document = tomlkit.parse(text)
        table = document["catchment"][group]
        for site, ranges in new_ranges.items():
            table[site] = _array(ranges, table.get(site))
        edited = tomlkit.dumps(document)
    except (TOMLKitError, KeyError, TypeError, ValueError):
        raise refused from None
    if note:
        lines = edited.split("\n")
        found = {name: n for n, name, array in headers(edited) if not array}
        # Above the group's own header; for a group written inside [catchment], above that.
        header = found.get(f"catchment.{group}", found.get("catchment"))
        if header is not None:
            lines[header - 1 : header - 1] = note.split("\n")[:-1]
            edited = "\n".join(lines)
    expected = tomllib.loads(text)
    expected["catchment"][group].update(new_ranges)
    try:
        if tomllib.loads(edited) != expected:
            raise refused
    except tomllib.TOMLDecodeError:
        raise refused from None
    return edited


def _edit_cases(text: str, moves: list[Move]) -> tuple[str | None, list[str]]:
    """cases.toml with the expected site of every case that a move concerns changed, and the
    names of those cases; (None, []) when no case changes or the file does not read as TOML
    (then the copy is left as it was, and validating the copy says why)."""
    try:
        cases = tomllib.loads(text).get("case", [])
    except tomllib.TOMLDecodeError:
        return None, []
    if not isinstance(cases, list):
        return None, []
    by_postcode = {str(m.postcode): m for m in moves}
    wanted: dict[int, Move] = {}
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("answers"), list):
            continue
        answers = [str(a).strip() for a in case["answers"]]
        hits = [by_postcode[a] for a in answers if a in by_postcode]
        move = next((m for m in hits if case.get("site") == m.source), None)
        if move is not None:
            wanted[i] = move
    if not wanted:
        return None, []
    refused = RebalanceError("reb_cannot_edit_cases")
    try:
        document = tomlkit.parse(text)
        for i, move in wanted.items():
            document["case"][i]["site"] = move.target
        edited = tomlkit.dumps(document)
    except (TOMLKitError, KeyError, IndexError, TypeError, ValueError):
        raise refused from None
    expected = tomllib.loads(text)
    for i, move in wanted.items():
        expected["case"][i]["site"] = move.target
    try:
        if tomllib.loads(edited) != expected:
            raise refused
    except tomllib.TOMLDecodeError:
        raise refused from None
    return edited, [str(cases[i].get("name", f"#{i + 1}")) for i in sorted(wanted)]


# --- the proposal for the meeting ------------------------------------------------------


def shares(loads: dict[str, float]) -> dict[str, float]:
    """Each site's part of the load of all the proposal's jobcentres."""
    total = sum(loads.values())
    return {s: (v / total if total else 0.0) for s, v in loads.items()}


def percent(value: float, lang: str) -> str:
    """0.4123 → "41,2 %" in Danish, "41.2 %" in English."""
    text = f"{value * 100:.1f} %"
    return text.replace(".", ",") if lang == "da" else text


def _whole(value: float, lang: str) -> str:
    return count(round(value), lang)


def proposal_text(
    sites: Sites,
    proposal: Proposal,
    context: Context,
    before_hour: dict[str, dict[int, float]],
    after_hour: dict[str, dict[int, float]],
    cases: list[str],
    counts: Tally,
) -> str:
    """The proposal in Markdown, in the command's language (Danish by default). Every column
    says what it is: visits counted in the log, or expected visits (the model)."""
    lang = context.lang

    def name(site: str) -> str:
        return sites.name_of(site, lang)

    def row(*cells: str) -> str:
        return "| " + " | ".join(cells) + " |"

    demo = t("reb_doc_demo_in" if context.include_demo else "reb_doc_demo_out", lang)
    out = [
        f"# {t('reb_doc_title', lang)}",
        "",
        t(
            "reb_doc_period",
            lang,
            start=context.start.isoformat(),
            end=context.end.isoformat(),
            made=context.made.isoformat(),
            demo=demo,
        ),
        t("reb_doc_group", lang, group=proposal.group),
        "",
        f"## {t('reb_doc_moves', lang)}",
        "",
    ]
    if not proposal.moves:
        out.append(t("reb_no_moves", lang))
    else:
        out += [
            row(
                t("exp_col_postcode", lang),
                t("reb_from", lang),
                t("reb_to", lang),
                t("reb_doc_moved_visits", lang),
                t("reb_doc_went", lang),
            ),
            row("---", "---", "---", "---:", "---"),
        ]
        for m in proposal.moves:
            went = ", ".join(f"{name(s)} {count(v, lang)}" for s, v in m.went_to)
            out.append(
                row(str(m.postcode), name(m.source), name(m.target), count(m.visits, lang), went)
            )
    if proposal.too_few:
        out += ["", too_few_text(proposal, lang)]
    if cases:
        out += ["", t("reb_cases", lang, cases=", ".join(cases))]
    share_before, share_after = shares(proposal.before), shares(proposal.after)
    ratio_before, ratio_after = proposal.ratio(proposal.before), proposal.ratio(proposal.after)
    out += [
        "",
        f"## {t('reb_doc_counted', lang)}",
        "",
        row(
            t("exp_col_site_name", lang),
            t("reb_doc_col_counted", lang),
            t("reb_doc_col_no_postcode", lang),
            t("reb_doc_col_other_municipality", lang),
            t("reb_doc_col_to_other", lang),
            t("reb_doc_col_from_other", lang),
            t("reb_doc_col_expected_now", lang),
        ),
        row("---", *["---:"] * 6),
    ]
    for site in proposal.capacity:
        out.append(
            row(
                name(site),
                count(counts.counted.get(site, 0), lang),
                count(counts.no_postcode.get(site, 0), lang),
                "−" + count(counts.other_municipality.get(site, 0), lang),
                "−" + count(counts.to_other.get(site, 0), lang),
                "+" + count(counts.from_other.get(site, 0), lang),
                _whole(proposal.before[site], lang),
            )
        )
    out += [
        "",
        t(
            "reb_doc_counted_note",
            lang,
            no_postcode=count(sum(counts.no_postcode.values()), lang),
            other=count(sum(counts.other_municipality.values()), lang),
        ),
        "",
        f"## {t('reb_doc_expected', lang)}",
        "",
        row(
            t("exp_col_site_name", lang),
            t("reb_capacity", lang),
            t("reb_doc_col_expected_now", lang),
            t("reb_doc_col_share_now", lang),
            t("reb_doc_col_expected_after", lang),
            t("reb_doc_col_share_after", lang),
            t("reb_doc_target", lang),
            t("reb_doc_col_per_counter_now", lang),
            t("reb_doc_col_per_counter_after", lang),
        ),
        row("---", *["---:"] * 8),
    ]
    for site in proposal.capacity:
        target = sites[site].target_share
        out.append(
            row(
                name(site),
                count(proposal.capacity[site], lang),
                _whole(proposal.before[site], lang),
                percent(share_before[site], lang),
                _whole(proposal.after[site], lang),
                percent(share_after[site], lang),
                percent(target, lang) if target is not None else "–",
                _whole(ratio_before[site], lang),
                _whole(ratio_after[site], lang),
            )
        )
    out += [
        "",
        max_text(proposal, lang),
        "",
        f"## {t('reb_doc_hours', lang)}",
        "",
        t("reb_doc_hours_explained", lang),
        "",
    ]
    hours = sorted(
        {h for by_hour in (*before_hour.values(), *after_hour.values()) for h in by_hour}
        | {h for by_hour in counts.hours.values() for h in by_hour}
    )
    heads = [
        f"{name(s)} {t(word, lang)}"
        for s in proposal.capacity
        for word in ("reb_doc_hour_counted", "reb_doc_hour_now", "reb_doc_hour_after")
    ]
    out += [row(t("reb_doc_hour", lang), *heads), row("---", *["---:"] * len(heads))]
    for hour in hours:
        cells = [
            _whole(loads[s].get(hour, 0), lang)
            for s in proposal.capacity
            for loads in (counts.hours, before_hour, after_hour)
        ]
        out.append(row(f"{hour:02d}–{hour + 1:02d}", *cells))
    out += [
        "",
        f"## {t('reb_doc_how', lang)}",
        "",
        t("reb_doc_how_model", lang, minimum=proposal.min_visits),
        "",
    ]
    return "\n".join(out)


def max_text(proposal: Proposal, lang: str) -> str:
    """The highest expected load per counter, now and with the moves."""
    return t(
        "reb_doc_max",
        lang,
        before=_whole(proposal.max_before, lang),
        after=_whole(proposal.max_after, lang),
    )


def too_few_text(proposal: Proposal, lang: str) -> str:
    """Why some postcodes were not tried: too few visits in the period."""
    return t("reb_doc_too_few", lang, postcodes=proposal.too_few, minimum=proposal.min_visits)


CSV_COLUMNS = (
    "section",  # site, hour, move or went_before
    "site_id",  # the site (for a move: where the postcode goes from)
    "hour",  # local hour of the day, 9 = 09:00–10:00 (hour rows)
    "postcode",
    "to_site_id",  # move rows: where the postcode goes
    "visits",  # counted in the log: registered at the site (a move: the postcode's visits)
    "no_postcode",  # site rows: of `visits`, those without a postcode (they stay)
    "other_municipality",  # site rows: of `visits`, postcode in another municipality (left out)
    "to_other_jobcentre",  # site rows: of `visits`, postcode of another jobcentre (counted there)
    "from_other_sites",  # site rows: postcode here, registered at another site (counted here)
    "expected_now",  # the model: as if citizens went where their postcode says
    "expected_after",  # the model with the moves (hour rows: an estimate)
    "expected_share_now",
    "expected_share_after",
    "target_share",
    "counters",
    "start",
    "end",  # the period's last day, included
    "include_demo",
)


def proposal_csv(
    sites: Sites,
    proposal: Proposal,
    context: Context,
    before_hour: dict[str, dict[int, float]],
    after_hour: dict[str, dict[int, float]],
    counts: Tally,
) -> str:
    """The proposal's figures as one CSV table, a row per figure and the period on every row:
    visits are whole numbers, except a moved postcode's share of an hour (one decimal)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    period = {
        "start": context.start.isoformat(),
        "end": context.end.isoformat(),
        "include_demo": str(context.include_demo).lower(),
    }
    share_before, share_after = shares(proposal.before), shares(proposal.after)

    def number(value: float) -> str:
        return str(round(value)) if value == round(value) else f"{value:.1f}"

    for site in proposal.capacity:
        target = sites[site].target_share
        writer.writerow(
            {
                "section": "site",
                "site_id": site,
                "visits": counts.counted.get(site, 0),
                "no_postcode": counts.no_postcode.get(site, 0),
                "other_municipality": counts.other_municipality.get(site, 0),
                "to_other_jobcentre": counts.to_other.get(site, 0),
                "from_other_sites": counts.from_other.get(site, 0),
                "expected_now": number(proposal.before[site]),
                "expected_after": number(proposal.after[site]),
                "expected_share_now": f"{share_before[site]:.4f}",
                "expected_share_after": f"{share_after[site]:.4f}",
                "target_share": "" if target is None else f"{target:.4f}",
                "counters": proposal.capacity[site],
                **period,
            }
        )
    for site in proposal.capacity:
        counted = counts.hours.get(site, {})
        for hour in sorted(set(before_hour[site]) | set(after_hour[site]) | set(counted)):
            writer.writerow(
                {
                    "section": "hour",
                    "site_id": site,
                    "hour": hour,
                    "visits": counted.get(hour, 0),
                    "expected_now": number(before_hour[site].get(hour, 0)),
                    "expected_after": number(after_hour[site].get(hour, 0)),
                    **period,
                }
            )
    for m in proposal.moves:
        writer.writerow(
            {
                "section": "move",
                "site_id": m.source,
                "postcode": m.postcode,
                "to_site_id": m.target,
                "visits": m.visits,
                **period,
            }
        )
        for visited, visits in m.went_to:
            writer.writerow(
                {
                    "section": "went_before",
                    "site_id": visited,
                    "postcode": m.postcode,
                    "visits": visits,
                    **period,
                }
            )
    return buffer.getvalue()
