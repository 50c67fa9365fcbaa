"""Keys from a new citizen to a confirmed visit, over every outcome of the default flow.

Counts, not timings: for each outcome the fewest option keys (1-9) that reach it, then the
median and the worst over all outcomes (goal: median ≤ 3, worst ≤ 4; postcode digits aside).
Also the whole keystroke count a receptionist types, with four postcode digits, the Enter after
them, and the Enter that confirms.

    python benchmarks/keys.py [--data DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from triage import paths  # noqa: E402
from triage.load import load_or_raise  # noqa: E402
from triage.walk import Walk  # noqa: E402


def fewest_keys(flow) -> dict[str, tuple[int, int]]:
    """outcome id → (option keys, all keystrokes incl. postcode and confirm), the cheapest path."""
    best: dict[str, tuple[int, int]] = {}
    pending = [Walk.start(flow)]
    while pending:
        walk = pending.pop()
        if walk.finished:
            option_keys = walk.keys_pressed
            postcodes = sum(1 for s in walk.steps if s.key is None)
            strokes = option_keys + postcodes * 5 + 1  # 4 digits + Enter each; Enter to confirm
            best[walk.node_id] = min(best.get(walk.node_id, (99, 99)), (option_keys, strokes))
            continue
        question = walk.question
        if question.asks_postcode:
            pending.append(walk.give_postcode("2400"))
        else:
            pending.extend(walk.choose(o.key) for o in question.options)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=None)
    args = parser.parse_args()
    flow = load_or_raise(args.data or paths.default_data_dir())
    best = fewest_keys(flow)
    keys = [k for k, _ in best.values()]
    strokes = [s for _, s in best.values()]
    print(
        f"{len(best)} outcomes: option keys median {statistics.median(keys):g}, worst {max(keys)} "
        f"(goal: median ≤ 3, worst ≤ 4)"
    )
    print(
        f"all keystrokes to a confirmed visit (postcode = 4 digits + Enter, then Enter): "
        f"median {statistics.median(strokes):g}, worst {max(strokes)}"
    )
    worst = sorted(best.items(), key=lambda item: -item[1][0])[:3]
    print("most option keys: " + ", ".join(f"{oid} {k}" for oid, (k, _) in worst))


if __name__ == "__main__":
    main()
