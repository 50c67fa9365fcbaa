"""The whole flow as a picture: a tree for the terminal (rich), a Mermaid flowchart for docs."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from triage.flow import Flow, Outcome
from triage.i18n import t

if TYPE_CHECKING:
    from rich.tree import Tree


def _destinations(flow: Flow, outcome: Outcome, lang: str) -> str:
    names = []
    for destination in outcome.destinations:
        if destination in flow.sites:
            names.append(flow.sites[destination].name(lang))
        else:
            names.append(t(f"tree_{destination}", lang))
    return " → ".join(names)


def tree(flow: Flow, lang: str = "da") -> Tree:
    """Every question with its keys down to the outcomes; a question reached twice is shown once.

    Questions are bold and outcomes green on a terminal (see triage.terminal for plain text)."""
    from rich.text import Text  # rich loads for the tree only, not for --mermaid
    from rich.tree import Tree

    shown: set[str] = set()

    def outcome_label(outcome: Outcome) -> Text:
        return Text(
            f"◆ {outcome.title(lang)} [{outcome.id}] → {_destinations(flow, outcome, lang)}",
            style="green",
        )

    def question_label(node_id: str) -> Text:
        return Text(f"? {flow.questions[node_id].text(lang)} [{node_id}]", style="bold")

    def walk(node_id: str, branch: Tree) -> None:
        question = flow.questions[node_id]
        branches: list[tuple[str, str]] = []
        if question.postcode:
            p = question.postcode
            branches.append((f"⟨{t('tree_postcode', lang)} → {p.catchment}⟩", p.next))
            if p.declined != p.next:
                branches.append((f"⟨{t('tree_declined', lang)}⟩", p.declined))
        else:
            branches = [(f"{o.key} {o.label(lang)}", o.next) for o in question.options]
        for label, target in branches:
            line = Text(f"{label} → ")
            if target in flow.outcomes:
                branch.add(line + outcome_label(flow.outcomes[target]))
            elif target in shown:
                see_above = f"? [{target}] ({t('tree_see_above', lang)})"
                branch.add(line + Text(see_above, style="dim"))
            else:
                shown.add(target)
                walk(target, branch.add(line + question_label(target)))

    shown.add(flow.start)
    root = Tree(question_label(flow.start), guide_style="dim")
    walk(flow.start, root)
    return root


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _node(kind: str, node_id: str) -> str:
    return f"{kind}_{re.sub(r'[^A-Za-z0-9_]', '_', node_id)}"


def mermaid(flow: Flow, lang: str = "da") -> str:
    """A Mermaid flowchart: questions as diamonds, outcomes as boxes, keys on the arrows."""
    out = ["flowchart TD"]
    for q in flow.questions.values():
        out.append(f"    {_node('q', q.id)}{{{_label(q.text(lang))}}}")
    for o in flow.outcomes.values():
        text = f"{o.title(lang)}<br/>{_destinations(flow, o, lang)}"
        out.append(f"    {_node('o', o.id)}[{_label(text)}]")

    def ref(node_id: str) -> str:
        return _node("q" if node_id in flow.questions else "o", node_id)

    for q in flow.questions.values():
        if q.postcode:
            out.append(
                f"    {ref(q.id)} -- {_label(t('tree_postcode', lang))} --> {ref(q.postcode.next)}"
            )
            if q.postcode.declined != q.postcode.next:
                out.append(
                    f"    {ref(q.id)} -- {_label(t('tree_declined', lang))} --> "
                    f"{ref(q.postcode.declined)}"
                )
        for option in q.options:
            label = _label(f"{option.key} {option.label(lang)}")
            out.append(f"    {ref(q.id)} -- {label} --> {ref(option.next)}")
    return "\n".join(out) + "\n"
