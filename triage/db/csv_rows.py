"""Visit rows from a SQLite file written as CSV, in a process of its own (`python -m
triage.db.csv_rows`): an export of many rows writes one half of its period here while the
exporting process writes the other, so both cores work. Standard library only: it starts fast.

The job comes on stdin as JSON (db, sql, params, out, delimiter). On stdout: the rows written
so far, a number a line, now and then; the last line is the total. A failure is one JSON line
on stderr ({"errno": …, "message": …, "database": …}) and exit status 1; the caller removes
`out`."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from typing import Any

BATCH = 5000
SAY_EVERY = 20  # batches between progress lines


def write_rows(job: dict[str, Any], say=print) -> int:
    """Run the job's query and write its rows to job["out"] as CSV; returns how many."""
    connection = sqlite3.connect(job["db"])
    try:
        cursor = connection.cursor()
        cursor.execute(job["sql"], job["params"])
        written = 0
        with open(job["out"], "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, delimiter=job["delimiter"], lineterminator="\r\n")
            batches = 0
            while part := cursor.fetchmany(BATCH):
                writer.writerows(part)
                written += len(part)
                batches += 1
                if batches % SAY_EVERY == 0:
                    say(written, flush=True)
        return written
    finally:
        connection.close()


def main() -> int:
    try:
        written = write_rows(json.load(sys.stdin))
        print(written, flush=True)
        return 0
    except (OSError, sqlite3.Error) as error:
        failure = {
            "errno": getattr(error, "errno", None),
            "message": str(error),
            "database": isinstance(error, sqlite3.Error),
        }
        print(json.dumps(failure), file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
