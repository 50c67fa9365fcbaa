"""Walking a flow: start, answer, back, and the outcome a walk ends in.

A Walk is an immutable value: every answer returns a new Walk, so going back is just
dropping the last step, and the same answers always give the same outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from triage.errors import CodedError
from triage.flow import NO_ADDRESS, Flow, Outcome, Question
from triage.sites import AfterHours, PostcodeError, Site

DECLINE = "-"
MUNICIPAL = (
    "jobcenter",
    "ydelsesservice",
    "sygedagpenge",
    "social",
)  # how a declined postcode is written in cases and on the command line


class AnswerError(CodedError, ValueError):
    """An answer that does not fit the current question; `code` names the i18n message."""


@dataclass(frozen=True)
class Step:
    question: str
    key: int | None = None  # the option key pressed (choice questions)
    option: str | None = None  # the option's stable id
    postcode: int | None = None  # postcode questions; None when declined
    site: str | None = None  # the site the postcode (or a choice of site) pointed to

    @property
    def path_entry(self) -> str:
        """Stable ids only, never labels: `question:option`, `question:postcode` or `:declined`."""
        if self.option is not None:
            return f"{self.question}:{self.option}"
        return f"{self.question}:{'declined' if self.postcode is None else 'postcode'}"


@dataclass(frozen=True)
class Result:
    """Where a finished walk sends the citizen."""

    outcome: Outcome
    destinations: tuple[Site, ...]
    here: Site
    postcode: int | None
    answered_site: Site | None  # the site the postcode (or a choice of site) pointed to
    path: tuple[str, ...]
    flow_version: str
    # How "from_answer" was settled: "postcode", "chosen" (a site picked from a list),
    # "no_address" (no fixed address), "declined" (no postcode given); None if not asked.
    basis: str | None = None
    after_hours: tuple[AfterHours, ...] = ()  # the outcome's help when closed, from sites.toml
    from_answer: Site | None = None  # where "from_answer" led (None: no such destination)

    @property
    def destination(self) -> Site:
        return self.destinations[0]

    @property
    def handled_here(self) -> bool:
        return self.destination.id == self.here.id


@dataclass(frozen=True)
class Walk:
    flow: Flow
    steps: tuple[Step, ...] = ()
    node_id: str = ""

    @classmethod
    def start(cls, flow: Flow) -> Walk:
        return cls(flow, (), flow.start)

    @property
    def current(self) -> Question | Outcome:
        return self.flow.node(self.node_id)

    @property
    def question(self) -> Question | None:
        return self.flow.questions.get(self.node_id)

    @property
    def finished(self) -> bool:
        return self.node_id in self.flow.outcomes

    @property
    def keys_pressed(self) -> int:
        return sum(1 for s in self.steps if s.key is not None)

    def _question_or_raise(self) -> Question:
        question = self.question
        if question is None:
            raise AnswerError("walk_finished")
        return question

    def choose(self, key: int) -> Walk:
        question = self._question_or_raise()
        if question.asks_postcode:
            raise AnswerError("expects_postcode")
        option = question.option(key)
        if option is None:
            raise AnswerError(
                "no_such_key", key=key, keys=", ".join(str(o.key) for o in question.options)
            )
        site = option.id if question.picks_site and option.id != NO_ADDRESS else None
        step = Step(question.id, key=key, option=option.id, site=site)
        return Walk(self.flow, self.steps + (step,), option.next)

    def give_postcode(self, answer: str | None) -> Walk:
        """A postcode as typed, or None when the citizen will not give it."""
        question = self._question_or_raise()
        if not question.postcode:
            raise AnswerError("expects_choice")
        if answer is None:
            step = Step(question.id)
            return Walk(self.flow, self.steps + (step,), question.postcode.declined)
        try:
            postcode, site = self.flow.sites.resolve_postcode(question.postcode.catchment, answer)
        except PostcodeError as error:
            raise AnswerError(error.code, postcode=error.postcode) from None
        step = Step(question.id, postcode=postcode, site=site.id)
        return Walk(self.flow, self.steps + (step,), question.postcode.next)

    def answer(self, text: str) -> Walk:
        """One answer as written on a command line or in a case: a key, a postcode or '-'."""
        question = self._question_or_raise()
        text = str(text).strip()
        if question.asks_postcode:
            return self.give_postcode(None if text == DECLINE else text)
        if not (len(text) == 1 and "0" <= text <= "9"):  # not "٢" or "²": ASCII digits only
            raise AnswerError("expects_choice_key", answer=text)
        return self.choose(int(text))

    def back(self) -> Walk:
        if not self.steps:
            return self
        return Walk(self.flow, self.steps[:-1], self.steps[-1].question)

    def result(self, here: str | None = None) -> Result:
        """The outcome with its destinations resolved; `here` is the desk's own site."""
        if not self.finished:
            raise AnswerError("walk_not_finished")
        sites = self.flow.sites
        here_site = sites[here or sites.default_site]
        postcode = next((s.postcode for s in reversed(self.steps) if s.postcode is not None), None)
        answered_site, basis = self._answered(here_site)
        outcome = self.flow.outcomes[self.node_id]
        resolved: list[Site] = []
        from_answer: Site | None = None
        for destination in outcome.destinations:
            if destination == "here":
                site = here_site
            elif destination == "from_answer":
                # A declined postcode leaves no site: the citizen is then helped here (or at
                # the default site when this desk is not that kind of place).
                site = answered_site or self._declined_fallback(here_site)
            else:
                site = sites[destination]
            if answered_site and answered_site.kind == "external" and site.kind in MUNICIPAL:
                # The postcode says the citizen lives in another municipality: every municipal
                # errand (jobcentre, benefits, social) then belongs there, not here.
                site = answered_site
            if destination == "from_answer":
                from_answer = site
            if site not in resolved:
                resolved.append(site)
        return Result(
            outcome=outcome,
            destinations=tuple(resolved),
            here=here_site,
            postcode=postcode,
            answered_site=answered_site,
            path=tuple(s.path_entry for s in self.steps),
            flow_version=self.flow.version,
            basis=basis,
            from_answer=from_answer,
            after_hours=tuple(
                sites.after_hours[h] for h in outcome.after_hours if h in sites.after_hours
            ),
        )

    def _declined_fallback(self, here_site: Site) -> Site:
        """Here, unless this desk is not the kind of place the declined postcode would have
        found (a desk at Ydelsesservice asked about job search): then the default site."""
        sites = self.flow.sites
        for step in reversed(self.steps):
            question = self.flow.questions[step.question]
            if question.postcode is None or step.postcode is not None:
                continue
            group = sites.catchments.get(question.postcode.catchment)
            kinds = {sites[s].kind for _, _, s in group.ranges} - {"external"} if group else set()
            default = sites[sites.default_site]
            if kinds and here_site.kind not in kinds and default.kind in kinds:
                return default
            break
        return here_site

    def _answered(self, here_site: Site) -> tuple[Site | None, str | None]:
        """The site the last postcode or site answer pointed to, and how it was found."""
        sites = self.flow.sites
        for step in reversed(self.steps):
            question = self.flow.questions[step.question]
            if step.site is not None:
                return sites[step.site], "postcode" if step.postcode is not None else "chosen"
            if step.option == NO_ADDRESS and question.no_address is not None:
                answer = question.no_address
                if answer.site is not None:
                    return sites[answer.site], "no_address"
                district = sites.district_of(here_site, answer.catchment or "")
                return district, "no_address"
            if question.asks_postcode:  # declined (a given postcode always has a site)
                return None, "declined"
        return None, None


def route(flow: Flow, answers: list[str], here: str | None = None) -> Result:
    """Walk a list of answers to the end; AnswerError if they do not lead to an outcome."""
    walk = Walk.start(flow)
    for answer in answers:
        walk = walk.answer(answer)
    return walk.result(here)
