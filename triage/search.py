"""Errand search: a few letters ("syg", "kontant", "bolig") → the outcomes and questions they mean.

The receptionist's "Jobcenter ABC", built from the flow itself: titles, option labels and the
`keywords` each node may list. Danish letters may be typed as ae/oe/aa, a slip of one letter is
forgiven, and so are endings and compounds ("pengene", "danskkursus"). Several words: an errand
matching more of them comes first, then the better match (the errand's own title over a
synonym, a rare word over a common one). Little words ("jeg", "på", "the") are left out.
Each hit carries its route: which key answers which question on the way to it. `follow`
presses those keys at the desk, and only those.
"""

from __future__ import annotations

import math
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

# Words that say nothing about the errand: "jeg skal søge kontanthjælp", "help with my CV".
_STOP_TEXT = """
og i paa af til for fra med om en et den det de der er var har have jeg mig min mit mine du dig
din dit han hun hans hendes vi os vores vil skal kan maa at som saa hvad hvor hvordan hvornaar
ikke ved under efter over eller men ogsaa nu gerne bare lidt kl
the a an of to for from with about and or on in at my me i is am are was have has do does
can not it this that be s
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())  # a word list reads best as plain words


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
    if len(query) >= 5 and distance(query, word, 1) <= 1:
        return 80  # one letter wrong, missing or swapped in the whole word: "boligstotte"
    if len(word) >= 4 and query.startswith(word):
        return 70 - min(len(query) - len(word), 20) * 0.5  # an ending or a compound: "pengene"
    if len(query) >= 3 and query in word:
        return 70
    if same_stem(query, word):
        return 65  # another ending of the same word: "stoppet" for "stopper"
    if len(query) >= 4 and distance(query, word[: len(query)], 1) <= 1:
        return 60  # a slip while typing the start of the word
    if len(query) >= 6 and distance(query, word, 2) <= 2:
        return 50
    return 0


def same_stem(a: str, b: str) -> bool:
    """The two words share a start of six letters or more, three quarters of the shorter one."""
    common = 0
    for x, y in zip(a, b, strict=False):  # words of any two lengths
        if x != y:
            break
        common += 1
    return common >= 6 and common >= 0.75 * min(len(a), len(b))


def query_words(query: str) -> list[str]:
    """The typed words that can say what the errand is; all of them if none can."""
    typed = list(dict.fromkeys(words(query)))
    return [w for w in typed if w not in STOP_WORDS] or typed


@dataclass(frozen=True)
class Hit:
    node_id: str
    kind: str  # "outcome" or "question"
    title: str
    route: Route  # which key answers which question; ASK where a postcode or site must be asked
    score: float
    matched: int = 1  # how many of the typed words it matches


@dataclass(frozen=True)
class Entry:
    node_id: str
    kind: str
    title_da: str
    title_en: str
    words: tuple[str, ...]  # title, option labels and keywords
    titles: tuple[tuple[str, ...], ...]  # the words of its title in each language
    area: tuple[str, ...]  # the words of the first answer on its route ("Sygdom og sygedagpenge")
    route: Route


def content_words(*texts: str) -> tuple[str, ...]:
    found = (w for text in texts for w in words(text) if w not in STOP_WORDS)
    return tuple(dict.fromkeys(found))


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
        labels = option_labels(flow)
        entries = []
        for outcome in flow.outcomes.values():
            title = [outcome.title.da, outcome.title.en]
            entries.append(
                self._entry(
                    outcome.id,
                    "outcome",
                    title,
                    [*title, *labels.get(outcome.id, []), *outcome.keywords],
                    routes.get(outcome.id, ()),
                )
            )
        for question in flow.questions.values():
            if question.id == flow.start or question.asks_postcode or question.picks_site:
                continue  # a postcode or site question only asks where; its errand comes after
            title = labels.get(question.id, [question.text.da, question.text.en])[:2]
            entries.append(
                self._entry(
                    question.id,
                    "question",
                    title,
                    [*labels.get(question.id, []), *question.keywords],
                    routes.get(question.id, ()),
                )
            )
        self.entries = entries

    def _entry(
        self, node_id: str, kind: str, title: list[str], text: list[str], route: Route
    ) -> Entry:
        area: tuple[str, ...] = ()
        start = self.flow.questions.get(self.flow.start)
        if route and route[0][1] != ASK and start is not None:
            option = start.option(int(route[0][1]))
            area = content_words(option.label.da, option.label.en) if option else ()
        return Entry(
            node_id,
            kind,
            title[0],
            title[-1],
            content_words(*text),
            tuple(content_words(t) for t in title),
            area,
            route,
        )

    def search(self, query: str, lang: str = "da", limit: int = 8) -> list[Hit]:
        typed = query_words(query)
        if not typed:
            return []
        # How well each typed word matches each entry (0: not at all).
        quality = [
            [max((word_score(q, w) for w in entry.words), default=0) for q in typed]
            for entry in self.entries
        ]
        # A word found in few errands says more than one found in many ("psykisk" over "syg").
        total = len(self.entries)
        rarity = []
        for i in range(len(typed)):
            found = sum(1 for row in quality if row[i] > 0)
            rarity.append(
                1 + math.log(total / found) / math.log(total) if found and total > 1 else 1
            )
        ranked = []
        for entry, row in zip(self.entries, quality, strict=True):
            matched = sum(1 for q in row if q > 0)
            if not matched:
                continue
            score = sum(q * r for q, r in zip(row, rarity, strict=True))
            # The errand's own name over a synonym: the more of its title typed, the better.
            score += 15 * max(title_covered(typed, title) for title in entry.titles)
            # A word that also names the errand's area ("kontanthjælp" under "Kontanthjælp og
            # andre ydelser") over the same word in another area ("Syg under kontanthjælp").
            if any(word_score(q, w) for q in typed for w in entry.area):
                score += 5
            title = entry.title_en if lang == "en" else entry.title_da
            hit = Hit(entry.node_id, entry.kind, title, entry.route, score, matched)
            # At equal score an outcome first: it is where the citizen goes.
            ranked.append(
                ((-matched, -score, entry.kind != "outcome", len(entry.route), title), hit)
            )
        ranked.sort(key=lambda pair: pair[0])
        return [hit for _, hit in ranked[:limit]]


def title_covered(typed: list[str], title: tuple[str, ...]) -> float:
    """The share of a title's words that the typed words match."""
    if not title:
        return 0.0
    return sum(1 for w in title if any(word_score(q, w) for q in typed)) / len(title)


def node_title(flow: Flow, node_id: str, lang: str = "da") -> str:
    """What the search shows for a node: an outcome's title, or the answer that leads to a
    question ("Kontanthjælp og andre ydelser")."""
    if node_id in flow.outcomes:
        return flow.outcomes[node_id].title(lang)
    labels = option_labels(flow).get(node_id)
    if labels:
        return labels[1] if lang == "en" and len(labels) > 1 else labels[0]
    question = flow.questions.get(node_id)
    return question.text(lang) if question else node_id


def option_labels(flow: Flow) -> dict[str, list[str]]:
    """The option labels (both languages) that lead to each node. A postcode or site question
    only asks where: the answer that led to it names the errand after it, so its labels are
    carried on ("Søge kontanthjælp (første gang)" names apply_benefits, not the postcode)."""
    labels: dict[str, dict[str, None]] = {}
    for question in flow.questions.values():
        if question.picks_site:
            continue  # site names say where, not what the errand is
        for option in question.options:
            labels.setdefault(option.next, {}).update(
                dict.fromkeys([option.label.da, option.label.en])
            )
    asks_where = [q for q in flow.questions.values() if q.postcode or q.picks_site]
    changed = True
    while changed:  # until every chain of postcode and site questions is passed through
        changed = False
        for question in asks_where:
            for target in question.targets():
                carried = labels.setdefault(target, {})
                before = len(carried)
                carried.update(labels.get(question.id, {}))
                changed = changed or len(carried) != before
    return {node_id: list(texts) for node_id, texts in labels.items()}


def follow(walk: Walk, route: Route) -> Walk:
    """Press a hit's keys while the walk stands at a question the hit answers; stop at any other
    question: a postcode or site the desk must ask, or a turn the hit did not foresee (a declined
    postcode leads to the district question). Called again after each answer the receptionist
    gives, it goes on by itself once the walk is back on the hit's route."""
    keys = {question_id: key for question_id, key in route if key != ASK}
    while walk.question is not None and walk.node_id in keys:
        walk = walk.choose(int(keys[walk.node_id]))
    return walk


# --- the corpus of searches in data/search.toml -------------------------------------------

SEARCH_GOAL = 0.9  # share of the corpus whose first hit must be right


@dataclass(frozen=True)
class SearchCase:
    """One line of the corpus: what is typed, and the node it must find first."""

    query: str
    expect: str
    line: int | None = None


@dataclass(frozen=True)
class Miss:
    case: SearchCase
    got: Hit | None  # the first hit instead, or None when nothing was found


@dataclass(frozen=True)
class SearchCheck:
    total: int
    misses: tuple[Miss, ...]

    @property
    def right(self) -> int:
        return self.total - len(self.misses)

    @property
    def percent(self) -> int:
        """Whole per cent, rounded down: never more than was reached."""
        return self.right * 100 // self.total if self.total else 100

    @property
    def met(self) -> bool:
        return self.right >= SEARCH_GOAL * self.total


def check_searches(index: ErrandIndex, cases: list[SearchCase]) -> SearchCheck:
    """Search every case as typed at the desk; a miss is a case whose first hit is not its node."""
    misses = []
    for case in cases:
        hits = index.search(case.query)
        if not hits or hits[0].node_id != case.expect:
            misses.append(Miss(case, hits[0] if hits else None))
    return SearchCheck(len(cases), tuple(misses))
