"""Key labels in the footer follow the UI language: each binding's id is its catalog key."""

from __future__ import annotations

from dataclasses import replace

from textual.dom import DOMNode

from triage.i18n import CATALOG, t


def translate_bindings(node: DOMNode, lang: str) -> None:
    # Textual keeps a node's bindings in `_bindings`; there is no public setter for a
    # binding's description, and the footer must change language at runtime.
    for key, bindings in node._bindings.key_to_bindings.items():
        node._bindings.key_to_bindings[key] = [
            replace(b, description=t(b.id, lang)) if b.id in CATALOG["da"] else b
            for b in bindings
        ]
