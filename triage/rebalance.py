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

The postcodes move within one catchment group: `jobcenter` when that group sends postcodes to
jobcentres, otherwise the group that sends them to the most jobcentres.

Plain Python; writing the proposal is a changed copy of the data folder, checked by the same
validator as `triage validate`. The copy is made in memory and read back first: a sites or
cases file laid out in a way the edit cannot follow is refused before anything is written.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import tomllib
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from triage.errors import CodedError
from triage.load import headers
from triage.sites import Sites

GROUP = "jobcenter"  # the catchment group the proposal moves postcodes in, if it has jobcentres
SEARCH_LIMIT = 200_000  # sets of moves tried for one number of moves (well under a second)
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class RebalanceError(CodedError):
    """A proposal that cannot be made or written; `code` names the i18n message."""


def jobcentre_group(sites: Sites) -> str:
    """The catchment group the proposal moves postcodes in (see the module's docstring)."""
    counts = {
        group: len({s for _, _, s in catchment.ranges if sites[s].kind == "jobcenter"})
        for group, catchment in sites.catchments.items()
    }
    if counts.get(GROUP):
        return GROUP
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


@dataclass
class Proposal:
    capacity: dict[str, int]
    before: dict[str, float]  # site → expected load today
    after: dict[str, float]  # site → expected load with the moves
    moves: list[Move] = field(default_factory=list)
    group: str = GROUP  # the catchment group the moves are made in

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
) -> Proposal:
    """per_postcode: visits per (postcode, recorded home site, visited site), as
    triage.stats.postcode_counts gives; per_site: all visits per visited site.
    RebalanceError when no catchment group sends postcodes to jobcentres."""
    group = jobcentre_group(sites)
    catchment = sites.catchments[group]
    group_sites = {s for _, _, s in catchment.ranges}
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
    proposal = Proposal(capacity, dict(loads), dict(loads), group=group)
    if len(capacity) < 2:
        return proposal

    candidates = [
        Move(p, source, target, demand[p])
        for p, source in sorted(assignment.items())
        if source is not None and source in capacity
        for target in sorted(seen_at[p])
        if target != source and target in capacity
    ]

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


def write_proposal(
    data_dir: Path,
    out_dir: Path,
    sites: Sites,
    moves: list[Move],
    made: date,
    group: str | None = None,
) -> list[str]:
    """Copy the data folder to `out_dir` with the moves applied to sites.toml; cases whose
    expected site was a moved postcode's old jobcentre expect the new one. Returns the names
    of the cases changed. RebalanceError, with nothing written, when the files cannot be
    edited safely or `out_dir` is the data folder itself."""
    group = group or jobcentre_group(sites)
    if out_dir.resolve() == data_dir.resolve():
        raise RebalanceError("reb_out_is_data", out=out_dir)
    text = (data_dir / "sites.toml").read_text(encoding="utf-8-sig")
    note = "".join(
        f"# triage rebalance {made.isoformat()}: {m.postcode} flyttet fra {m.source} "
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
    _write_all(out_dir, files)
    return changed


def _write_all(out_dir: Path, files: dict[str, bytes]) -> None:
    """Write every file under a temporary name first and rename them only when all are
    written, so a full disk leaves no half-written file (and no folder this made). An
    OSError names the file in `out_dir` it was writing."""
    made = [folder for folder in (out_dir, *out_dir.parents) if not folder.exists()]
    written: list[Path] = []
    name = ""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            temporary = out_dir / f".{name}.part"
            written.append(temporary)
            with open(temporary, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
        for name in files:
            os.replace(out_dir / f".{name}.part", out_dir / name)
    except OSError as error:
        for temporary in written:
            temporary.unlink(missing_ok=True)
        for folder in made:  # the innermost first
            with suppress(OSError):
                folder.rmdir()
        target = out_dir / name if name else out_dir
        raise OSError(error.errno, error.strerror, str(target)) from error


def _key(name: str) -> str:
    """A TOML key as written: bare when it can be, quoted otherwise."""
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name, ensure_ascii=False)


def _key_line(name: str) -> re.Pattern[str]:
    """The line where `name = ...` starts, however the key is quoted."""
    spellings = {name, json.dumps(name, ensure_ascii=False), f"'{name}'"}
    spelled = "|".join(re.escape(k) for k in spellings)
    return re.compile(rf"^\s*(?:{spelled})\s*=")


def _table_body(lines: list[str], name: str) -> tuple[int, int] | None:
    """(first, end) line indexes of the body of table `name`, or None if it has no header."""
    found = headers("\n".join(lines))
    for i, (number, header, array) in enumerate(found):
        if header == name and not array:
            end = found[i + 1][0] - 1 if i + 1 < len(found) else len(lines)
            return number, end
    return None


def _value_end(lines: list[str], first: int, end: int) -> int | None:
    """The index after the last line of the key/value pair starting at `first` (an array may
    span lines): the fewest lines that read as TOML on their own."""
    for last in range(first + 1, end + 1):
        try:
            tomllib.loads("\n".join(lines[first:last]))
        except tomllib.TOMLDecodeError:
            continue
        return last
    return None


def _edit_catchment(text: str, group: str, new_ranges: dict[str, list[str]], note: str) -> str:
    """sites.toml with the catchment group's lines for the changed sites rewritten; checked by
    reading it back: every other value must be as it was."""
    refused = RebalanceError("reb_cannot_edit_sites", group=group)
    lines = text.split("\n")
    body = _table_body(lines, f"catchment.{group}")
    if body is None:
        raise refused
    first, end = body
    for site, ranges in new_ranges.items():
        line = f"{_key(site)} = [{', '.join(json.dumps(r) for r in ranges)}]"
        pattern = _key_line(site)
        start = next((i for i in range(first, end) if pattern.match(lines[i])), None)
        if start is None:
            # A site new to the group: after the group's last line that holds a value.
            filled = [
                i
                for i in range(first, end)
                if lines[i].strip() and not lines[i].lstrip().startswith("#")
            ]
            at = (filled[-1] + 1) if filled else first
            lines[at:at] = [line]
            end += 1
            continue
        stop = _value_end(lines, start, end)
        if stop is None:
            raise refused
        lines[start:stop] = [line]
        end -= stop - start - 1
    header = first - 1
    lines[header:header] = note.split("\n")[:-1] if note else []
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
    lines = text.split("\n")
    found = headers(text)
    starts = [number for number, name, array in found if array and name == "case"]
    if len(starts) != len(cases):
        raise refused  # cases written as an inline list, or [[case]] headers the count misses
    bounds = [number for number, _, _ in found] + [len(lines) + 1]
    site_line = _key_line("site")
    for i, move in wanted.items():
        first = starts[i]  # the header's line number is the body's first index
        end = next(b for b in bounds if b > starts[i]) - 1
        at = next((j for j in range(first, end) if site_line.match(lines[j])), None)
        if at is None or _value_end(lines, at, end) != at + 1:
            raise refused
        lines[at] = f"site = {json.dumps(move.target, ensure_ascii=False)}"
    edited = "\n".join(lines)
    expected = tomllib.loads(text)
    for i, move in wanted.items():
        expected["case"][i]["site"] = move.target
    try:
        if tomllib.loads(edited) != expected:
            raise refused
    except tomllib.TOMLDecodeError:
        raise refused from None
    return edited, [str(cases[i].get("name", f"#{i + 1}")) for i in sorted(wanted)]
