"""The whole flow as a picture: an indented tree for the terminal, a Mermaid flowchart for docs."""

from __future__ import annotations

import re

from triage.flow import Flow, Outcome
from triage.i18n import t


def _destinations(flow: Flow, outcome: Outcome, lang: str) -> str:
    names = []
    for destination in outcome.destinations:
        if destination in flow.sites:
            names.append(flow.sites[destination].name(lang))
        else:
            names.append(t(f"tree_{destination}", lang))
    return " → ".join(names)


def tree(flow: Flow, lang: str = "da") -> str:
    """Every question with its keys down to the outcomes; a question reached twice is shown once."""
    lines: list[str] = []
    shown: set[str] = set()

    def outcome_line(outcome: Outcome) -> str:
        return f"◆ {outcome.title(lang)} [{outcome.id}] → {_destinations(flow, outcome, lang)}"

    def walk(node_id: str, prefix: str) -> None:
        question = flow.questions[node_id]
        branches: list[tuple[str, str]] = []
        if question.postcode:
            p = question.postcode
            branches.append((f"⟨{t('tree_postcode', lang)} → {p.catchment}⟩", p.next))
            if p.declined != p.next:
                branches.append((f"⟨{t('tree_declined', lang)}⟩", p.declined))
        else:
            branches = [(f"{o.key} {o.label(lang)}", o.next) for o in question.options]
        for i, (label, target) in enumerate(branches):
            last = i == len(branches) - 1
            connector, extend = ("└─ ", "   ") if last else ("├─ ", "│  ")
            if target in flow.outcomes:
                lines.append(f"{prefix}{connector}{label} → {outcome_line(flow.outcomes[target])}")
            elif target in shown:
                lines.append(
                    f"{prefix}{connector}{label} → ? [{target}] ({t('tree_see_above', lang)})"
                )
            else:
                shown.add(target)
                lines.append(
                    f"{prefix}{connector}{label} → ? {flow.questions[target].text(lang)} [{target}]"
                )
                walk(target, prefix + extend)

    shown.add(flow.start)
    lines.append(f"? {flow.questions[flow.start].text(lang)} [{flow.start}]")
    walk(flow.start, "")
    return "\n".join(lines)


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
