"""The command palette (Ctrl+P) offers the desk's own actions, in the desk's language."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.keys import key_name, ui_lang
from triage.i18n import CATALOG, t

# The palette itself, and quit (Textual's own entry says it in the UI language).
NOT_IN_PALETTE = {"key_palette", "key_quit"}


class DeskCommands(Provider):
    """What the keys on the desk do, for those who would rather search than remember a key."""

    def _actions(self):
        screen = self.screen
        lang = ui_lang(screen)
        for node in (screen, self.app):
            for binding in getattr(node, "BINDINGS", []):
                if not getattr(binding, "id", None) or not binding.show:
                    continue
                if binding.id in NOT_IN_PALETTE:
                    continue
                if node.check_action(binding.action.split("(")[0], ()) is not True:
                    continue
                label = t(binding.id, lang)
                key = binding.key_display or key_name(binding.key)
                # What the entry does, not only its key: "F3 · Skift mellem fremmøde og …".
                help_key = f"help_{binding.id}"
                described = help_key in CATALOG["da"]
                help_text = f"{key} · {t(help_key, lang)}" if described else key
                yield label, help_text, partial(node.run_action, binding.action)

    async def discover(self) -> Hits:
        for label, help_text, run in self._actions():
            yield DiscoveryHit(label, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, help_text, run in self._actions():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), run, text=label, help=help_text)
