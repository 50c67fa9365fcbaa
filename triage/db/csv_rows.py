"""Visit rows written as CSV lines, quicker than the csv module, and the same bytes: from the
cells of queries.visits_csv_sql, checked a batch at a time. Also, in a process of its own
(`python -m triage.db.csv_rows`), the rows of a SQLite file: an export of many rows writes
one half of its period here while the exporting process writes the other, so both cores
work. Standard library only: it starts fast.

The job comes on stdin as JSON (db, sql, params, quoted, fields, exact_sql, exact_params,
out, delimiter). On stdout: the rows written so far, a number a line, now and then; the last
line is the total. A failure is one JSON line on stderr ({"errno": …, "message": …,
"database": …}) and exit status 1; the caller removes `out`."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import IO, Any

BATCH = 5000
SAY_EVERY = 20  # batches between progress lines
LINE_END = "\r\n"


def csv_lines(
    part: Sequence[Sequence[str]], delimiter: str, fields: int, quoted: Sequence[int]
) -> bytes | None:
    """A batch of rows of visits_csv_sql as CSV lines in UTF-8, or None when a value outside
    the quoted cells holds the delimiter, a quote or a line break (the csv module would quote
    it). Counted: each line has one delimiter fewer than its fields and a CR LF, and the
    quoted cells hold the rest of those characters; one more is a value to quote."""
    data = (LINE_END.join(map(delimiter.join, part)) + LINE_END).encode()
    special = (delimiter + '"' + LINE_END).encode()
    expected = len(part) * (fields - 1 + len(LINE_END))
    for cell in quoted:
        inside = "".join(map(itemgetter(cell), part)).encode()
        expected += len(inside) - len(inside.translate(None, special))
    if len(data) - len(data.translate(None, special)) != expected:
        return None
    return data


def write_lines(
    batches: Iterable[Sequence[Sequence[str]]],
    out: IO[bytes],
    delimiter: str,
    fields: int,
    quoted: Sequence[int],
    tick: Callable[[int], None],
) -> int | None:
    """Write the batches (rows of visits_csv_sql) to `out` as CSV lines; returns how many rows,
    or None, having written part of them, at the first batch that needs the csv module."""
    written = 0
    for part in batches:
        data = csv_lines(part, delimiter, fields, quoted)
        if data is None:
            return None
        out.write(data)
        written += len(part)
        tick(written)
    return written


def write_quoted(
    batches: Iterable[Sequence[Sequence[Any]]],
    out: IO[str],
    delimiter: str,
    tick: Callable[[int], None],
) -> int:
    """Write the batches (rows of visits_sql, text) with the csv module; returns how many."""
    writer = csv.writer(out, delimiter=delimiter, lineterminator=LINE_END)
    written = 0
    for part in batches:
        writer.writerows(part)
        written += len(part)
        tick(written)
    return written


def _batches(connection: sqlite3.Connection, sql: str, params: dict):
    cursor = connection.execute(sql, params)
    while part := cursor.fetchmany(BATCH):
        yield part


def write_rows(job: dict[str, Any], say=print) -> int:
    """Run the job's query and write its rows to job["out"] as CSV; returns how many. The quick
    way first; should a value need the csv module, the file starts over the csv module's way."""
    connection = sqlite3.connect(job["db"])
    batches = 0

    def tick(written: int) -> None:
        nonlocal batches
        batches += 1
        if batches % SAY_EVERY == 0:
            say(written, flush=True)

    try:
        with open(job["out"], "wb") as out:
            delimiter = job["delimiter"]
            batch = _batches(connection, job["sql"], job["params"])
            written = write_lines(batch, out, delimiter, job["fields"], job["quoted"], tick)
            if written is not None:
                return written
            batch.close()
            out.seek(0)
            out.truncate()
            text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
            rows = _batches(connection, job["exact_sql"], job["exact_params"])
            written = write_quoted(rows, text, delimiter, tick)
            text.detach()
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
