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

Plain Python; writing the proposal is a changed copy of the data folder, checked by the same
validator as `triage validate`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from triage.sites import Sites

GROUP = "jobcenter"  # the catchment group whose postcodes the proposal moves
SEARCH_LIMIT = 200_000  # sets of moves tried for one number of moves (well under a second)


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


def propose(sites: Sites, per_postcode: dict[tuple[int, str, str], int], per_site: dict[str, int],
            max_moves: int = 10, min_gain: float = 0.005) -> Proposal:
    """per_postcode: visits per (postcode, recorded home site, visited site), as
    triage.stats.postcode_counts gives; per_site: all visits per visited site."""
    catchment = sites.catchments[GROUP]
    group_sites = {s for _, _, s in catchment.ranges}
    capacity = {s.id: s.capacity for s in sites
                if s.kind == "jobcenter" and s.id in group_sites and s.capacity}
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
    proposal = Proposal(capacity, dict(loads), dict(loads))
    if len(capacity) < 2:
        return proposal

    candidates = [Move(p, source, target, demand[p]) for p, source in sorted(assignment.items())
                  if source in capacity for target in sorted(seen_at[p])
                  if target != source and target in capacity]

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
    out: list[str] = []
    for p in sorted(postcodes):
        if out and out[-1][1] == p - 1:
            out[-1] = (out[-1][0], p)
        else:
            out.append((p, p))
    return [f"{a:04d}" if a == b else f"{a:04d}-{b:04d}" for a, b in out]


def changed_catchment(sites: Sites, moves: list[Move]) -> dict[str, list[str]]:
    """site → its new list of ranges, for the sites whose catchment changes."""
    catchment = sites.catchments[GROUP]
    changed = {m.source for m in moves} | {m.target for m in moves}
    moved = {m.postcode: m.target for m in moves}
    result = {}
    for site in changed:
        mine = [p for lo, hi, s in catchment.ranges if s == site for p in range(lo, hi + 1)
                if p not in moved]
        mine += [p for p, target in moved.items() if target == site]
        result[site] = _ranges(mine)
    return result


def write_proposal(data_dir: Path, out_dir: Path, sites: Sites, moves: list[Move],
                   made: date) -> list[str]:
    """Copy the data folder to `out_dir` with the moves applied to sites.toml; cases whose
    expected site was a moved postcode's old jobcentre expect the new one. Returns the names
    of the cases changed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in data_dir.iterdir():
        if path.is_file() and path.suffix in (".toml", ".json"):
            shutil.copy2(path, out_dir / path.name)
    text = (data_dir / "sites.toml").read_text(encoding="utf-8")
    header = f"[catchment.{GROUP}]"
    start = text.index(header)
    end = text.find("\n[", start + len(header))
    end = len(text) if end == -1 else end
    body = text[start:end]
    for site, ranges in changed_catchment(sites, moves).items():
        line = f"{site} = [{', '.join(json.dumps(r) for r in ranges)}]"
        body, found = re.subn(rf"(?m)^{re.escape(site)}\s*=.*$", line, body)
        if not found:
            body = body.rstrip("\n") + "\n" + line + "\n"
    note = "".join(f"# triage rebalance {made.isoformat()}: {m.postcode} flyttet fra {m.source} til {m.target} "
                   f"({m.visits} besøg i perioden)\n" for m in moves)
    (out_dir / "sites.toml").write_text(text[:start] + note + body + text[end:], encoding="utf-8")
    return _update_cases(out_dir / "cases.toml", moves)


def _update_cases(path: Path, moves: list[Move]) -> list[str]:
    if not path.exists() or not moves:
        return []
    text = path.read_text(encoding="utf-8")
    cases = tomllib.loads(text).get("case", [])
    blocks = text.split("[[case]]")
    changed = []
    by_postcode = {str(m.postcode): m for m in moves}
    for i, case in enumerate(cases, start=1):
        hits = [by_postcode[str(a)] for a in case.get("answers", []) if str(a) in by_postcode]
        move = next((m for m in hits if case.get("site") == m.source), None)
        if move is None:
            continue
        blocks[i], found = re.subn(rf'(?m)^site\s*=\s*"{re.escape(move.source)}"', f'site = "{move.target}"',
                                   blocks[i], count=1)
        if found:
            changed.append(case.get("name", f"#{i}"))
    path.write_text("[[case]]".join(blocks), encoding="utf-8")
    return changed
