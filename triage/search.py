"""Errand search: a few letters ("syg", "kontant", "bolig") → the outcomes and questions they mean.

The receptionist's "Jobcenter ABC", built from the flow itself: titles, option labels and the
`keywords` each node may list. Danish letters may be typed as ae/oe/aa, and a slip of one letter
is forgiven. Best hit first; each hit carries its route: which key answers which question on
the way to it. `follow` presses those keys at the desk, and only those.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

from triage.flow import Flow
from triage.walk import Walk

FOLD = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa", "é": "e", "ü": "u", "ö": "oe", "ä": "ae"})
WORD = re.compile(r"[a-z0-9]+")
ASK = "?"  # in a hit's route: the desk must ask here (a postcode or a site) before going on

# (question id, key or ASK) for each question from the start to a node, in order.
Route = tuple[tuple[str, str], ...]


def fold(text: str) -> str:
    return text.casefold().translate(FOLD)


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


def distance(a: str, b: str, limit: int = 2) -> int:
    """Edit distance with swaps (Damerau), stopping early past limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def word_score(query: str, word: str) -> float:
    """How well one typed word matches one word of an entry (0: not at all)."""
    if word == query:
        return 100
    if word.startswith(query):
        return 90 - min(len(word) - len(query), 20) * 0.5
    if len(query) >= 3 and query in word:
        return 70
    if len(query) >= 4 and distance(query, word[: len(query)], 1) <= 1:
        return 60  # a slip while typing the start of the word
    if len(query) >= 6 and distance(query, word, 2) <= 2:
        return 50
    return 0


@dataclass(frozen=True)
class Hit:
    node_id: str
    kind: str  # "outcome" or "question"
    title: str
    route: Route  # which key answers which question; ASK where a postcode or site must be asked
    score: float


@dataclass(frozen=True)
class Entry:
    node_id: str
    kind: str
    title_da: str
    title_en: str
    words: tuple[str, ...]
    title_words: tuple[str, ...]
    route: Route


def routes_from_start(flow: Flow) -> dict[str, Route]:
    """The fewest keys from the start to every node. A search cannot guess a postcode or which
    site the letter names, so those steps are ASK: the desk asks, then goes on by itself."""
    best: dict[str, Route] = {flow.start: ()}
    queue = deque([flow.start])
    while queue:
        node_id = queue.popleft()
        question = flow.questions.get(node_id)
        if question is None:
            continue
        if question.postcode or question.picks_site:
            targets = {t: best[node_id] + ((node_id, ASK),) for t in question.targets()}
        else:
            targets = {o.next: best[node_id] + ((node_id, str(o.key)),) for o in question.options}
        for target, route in targets.items():
            if target not in best:
                best[target] = route
                queue.append(target)
    return best


class ErrandIndex:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        routes = routes_from_start(flow)
        labels: dict[str, list[str]] = {}
        for question in flow.questions.values():
            if question.picks_site:
                continue  # site names say where, not what the errand is
            for option in question.options:
                labels.setdefault(option.next, []).extend([option.label.da, option.label.en])
        entries = []
        for outcome in flow.outcomes.values():
            text = [outcome.title.da, outcome.title.en, *labels.get(outcome.id, []), *outcome.keywords]
            entries.append(Entry(outcome.id, "outcome", outcome.title.da, outcome.title.en,
                                 tuple(w for t in text for w in words(t)),
                                 tuple(words(outcome.title.da) + words(outcome.title.en)),
                                 routes.get(outcome.id, ())))
        for question in flow.questions.values():
            if question.id == flow.start or question.asks_postcode:
                continue
            text = [*labels.get(question.id, []), *question.keywords]
            title = labels.get(question.id, [question.text.da, question.text.en])
            entries.append(Entry(question.id, "question", title[0], title[1] if len(title) > 1 else title[0],
                                 tuple(w for t in text for w in words(t)),
                                 tuple(w for t in title[:2] for w in words(t)),
                                 routes.get(question.id, ())))
        self.entries = entries

    def search(self, query: str, lang: str = "da", limit: int = 8) -> list[Hit]:
        typed = words(query)
        if not typed:
            return []
        hits = []
        for entry in self.entries:
            total = 0.0
            for q in typed:
                best = max((word_score(q, w) for w in entry.words), default=0)
                if best == 0:
                    break
                total += best
                if max((word_score(q, w) for w in entry.title_words), default=0) >= best - 5:
                    total += 10  # the errand's own name beats a synonym
            else:
                # Outcomes before questions at equal score: they are where the citizen goes.
                total += 5 if entry.kind == "outcome" else 0
                title = entry.title_en if lang == "en" else entry.title_da
                hits.append(Hit(entry.node_id, entry.kind, title, entry.route, total))
        hits.sort(key=lambda h: (-h.score, len(h.route), h.title))
        return hits[:limit]


def follow(walk: Walk, route: Route) -> Walk:
    """Press a hit's keys while the walk stands at a question the hit answers; stop at any other
    question: a postcode or site the desk must ask, or a turn the hit did not foresee (a declined
    postcode leads to the district question). Called again after each answer the receptionist
    gives, it goes on by itself once the walk is back on the hit's route."""
    keys = {question_id: key for question_id, key in route if key != ASK}
    while walk.question is not None and walk.node_id in keys:
        walk = walk.choose(int(keys[walk.node_id]))
    return walk
