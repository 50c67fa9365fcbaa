"""A ticket's letter and number in big block letters, for the kiosk's ticket screen: "A 042"
readable from a few metres. Textual's Digits draws digits only (and A-F), not a queue's S or Y.

The classic 5×7 dot font; each dot two cells wide (a cell is about twice as tall as wide), so
the glyphs keep their shape. Loaded only when a ticket is shown (not on the kiosk's start path).
"""

from __future__ import annotations

HEIGHT = 7  # rows of a glyph

# Each glyph: seven rows of five dots, "#" drawn. Letters A-Z (a queue's letter) and digits.
GLYPHS = {
    "A": ".###. #...# #...# ##### #...# #...# #...#",
    "B": "####. #...# #...# ####. #...# #...# ####.",
    "C": ".###. #...# #.... #.... #.... #...# .###.",
    "D": "###.. #..#. #...# #...# #...# #..#. ###..",
    "E": "##### #.... #.... ####. #.... #.... #####",
    "F": "##### #.... #.... ####. #.... #.... #....",
    "G": ".###. #...# #.... #.### #...# #...# .####",
    "H": "#...# #...# #...# ##### #...# #...# #...#",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##..",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...#",
    "L": "#.... #.... #.... #.... #.... #.... #####",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...#",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...#",
    "O": ".###. #...# #...# #...# #...# #...# .###.",
    "P": "####. #...# #...# ####. #.... #.... #....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.#",
    "R": "####. #...# #...# ####. #.#.. #..#. #...#",
    "S": ".#### #.... #.... .###. ....# ....# ####.",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",
    "U": "#...# #...# #...# #...# #...# #...# .###.",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#..",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...#",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",
    "Z": "##### ....# ...#. ..#.. .#... #.... #####",
    "0": ".###. #...# #...# #...# #...# #...# .###.",  # no slash: Ø is a letter here
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    "2": ".###. #...# ....# ...#. ..#.. .#... #####",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###.",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "5": "##### #.... ####. ....# ....# #...# .###.",
    "6": "..##. .#... #.... ####. #...# #...# .###.",
    "7": "##### ....# ...#. ..#.. .#... .#... .#...",
    "8": ".###. #...# #...# .###. #...# #...# .###.",
    "9": ".###. #...# #...# .#### ....# ...#. .##..",
    " ": "... ... ... ... ... ... ...",
}


def big_lines(text: str, dot: int = 2) -> list[str]:
    """text in big letters: HEIGHT lines, each dot `dot` cells wide, a dot's width between
    glyphs. A character the font lacks is drawn as a space."""
    lines = [""] * HEIGHT
    for n, char in enumerate(text.upper()):
        rows = GLYPHS.get(char, GLYPHS[" "]).split()
        for y, row in enumerate(rows):
            gap = " " * dot if n else ""
            lines[y] += gap + "".join("█" * dot if d == "#" else " " * dot for d in row)
    return lines


def big_width(text: str, dot: int = 2) -> int:
    """How many cells wide big_lines(text, dot) is."""
    return len(big_lines(text, dot)[0])
