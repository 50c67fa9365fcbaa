"""Bad input on the command line, run as a person runs it: each invocation a real process.

Every bad invocation ends in exit 1 (bad input) or 2 (usage) with a message on stderr that says
what is wrong, and never a traceback. The processes run a few at a time, once, when the first
case is checked; each case is still its own test. A case that would need the desk's screen
fails before Textual starts (a started app would wait for keys until the timeout).
"""

from __future__ import annotations

import os
import random
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import SHIPPED, edit

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "hemmeligt-kodeord"  # in some --db URLs: never shown in a message
U, B = 2, 1  # exit codes: usage, bad input
TIMEOUT = 60  # seconds; every case here ends in well under one

# (id, the words after `triage`, exit code, a piece of the message). The words are split as a
# shell splits them; then {name} becomes a path or URL of the workspace, {new} a name of the
# case's own that does not exist yet, {password} a password that must never be shown.
CASES: list[tuple[str, str, int, str]] = [
    # --- usage: argparse says what is wrong and how the command is written
    ("unknown-command", "frobnicate", U, "kender ikke kommandoen 'frobnicate'"),
    ("desk-unknown-option", "--frobnicate", U, "triage desk kender ikke '--frobnicate'"),
    (
        "validate-unknown-option",
        "validate --frobnicate",
        U,
        "triage validate kender ikke '--frobnicate'",
    ),
    ("validate-lang-fr", "validate --lang fr", U, "--lang kan ikke være 'fr'. Vælg en af: da, en."),
    ("route-at-without-value", "route --at", U, "--at skal have en værdi"),
    ("spool-without-action", "spool", U, "triage spool skal have action med"),
    ("spool-unknown-action", "spool send", U, "kan ikke være 'send'. Vælg en af: status, flush."),
    ("check-unknown-option", "check --nope", U, "triage check kender ikke '--nope'"),
    ("purge-without-before", "purge", U, "triage purge skal have --before med"),
    ("purge-before-without-value", "purge --before", U, "--before skal have en værdi"),
    (
        "summary-format-xml",
        "summary --format xml",
        U,
        "--format kan ikke være 'xml'. Vælg en af: table, json, csv.",
    ),
    ("summary-from-without-value", "summary --from", U, "--from skal have en værdi"),
    ("summary-site-without-value", "summary --site", U, "--site skal have en værdi"),
    ("export-without-out", "export", U, "triage export skal have --out med"),
    (
        "export-format-pdf",
        "export --out x.xlsx --format pdf",
        U,
        "--format kan ikke være 'pdf'. Vælg en af: csv, xlsx, json.",
    ),
    (
        "export-min-count-abc",
        "export --out x.xlsx --min-count abc",
        U,
        "--min-count skal være et helt tal (fx 10), ikke 'abc'",
    ),
    (
        "export-wait-minutes-ten",
        "export --out x.xlsx --wait-minutes ten",
        U,
        "--wait-minutes skal være et tal",
    ),
    ("rebalance-without-out", "rebalance", U, "triage rebalance skal have --out med"),
    (
        "rebalance-max-moves-many",
        "rebalance --out p --max-moves many",
        U,
        "--max-moves skal være et helt tal",
    ),
    ("demo-days-ten", "demo --days ten", U, "--days skal være et helt tal"),
    (
        "demo-per-day-float",
        "demo --per-day 1e3",
        U,
        "--per-day skal være et helt tal (fx 10), ikke '1e3'",
    ),
    ("demo-seed-x", "demo --seed x", U, "--seed skal være et helt tal"),
    ("desk-lang-de", "desk --lang de", U, "--lang kan ikke være 'de'"),
    ("site-without-value", "--site", U, "--site skal have en værdi"),
    ("validate-mermaid-without-file", "validate --mermaid", U, "--mermaid skal have en værdi"),
    ("check-extra-argument", "check extra", U, "triage check kender ikke 'extra'"),
    ("demo-days-without-value", "demo --days", U, "--days skal have en værdi"),
    ("route-lang-without-value", "route --lang", U, "--lang skal have en værdi"),
    ("desk-unknown-long-option", "desk --bogus 1", U, "triage desk kender ikke '--bogus'"),
    ("desk-sitee-near", "desk --sitee ys", U, "kender ikke '--sitee'. Mente du --site?"),
    (
        "summary-flag-with-value",
        "summary --no-demo=yes",
        U,
        "--no-demo tager ingen værdi (ikke 'yes')",
    ),
    ("summary-format-xml-english", "summary --format xml --lang en", U, "--format cannot be 'xml'"),
    ("summary-frm-near", "summary --frm 2026-01-01", U, "kender ikke '--frm'. Mente du --from?"),
    ("summary-frm-english", "summary --lang en --frm 1", U, "Did you mean --from?"),
    ("report-month-without-out", "report --month 2026-10", U, "triage report skal have --out med"),
    ("export-f-ambiguous", "export --out x --f csv", U, "--f kan betyde flere ting"),
    (
        "rebalance-max-moves-english",
        "rebalance --lang en --out p --max-moves abc",
        U,
        "whole number",
    ),
    ("queue-without-action", "queue", U, "triage queue skal have action med"),
    ("queue-unknown-action", "queue call", U, "kan ikke være 'call'. Vælg en af: status."),
    ("queue-format-csv", "queue status --format csv", U, "--format kan ikke være 'csv'"),
    ("queue-missing-db", "queue status --db {new}.db", B, "findes ikke"),
    ("queue-unknown-site", "queue status --db {good} --site nowhere", B, "Stedet 'nowhere'"),
    # board15: the waiting-room board refuses before it draws anything
    ("board-missing-db", "board --db {new}.db", B, "findes ikke"),
    ("board-unknown-site", "board --db {good} --site nowhere", B, "Stedet 'nowhere'"),
    ("board-site-without-queues", "board --db {good} --site sc-valby", B, "har ingen køer"),
    ("board-in-memory", "board --db sqlite://", B, "i hukommelsen"),
    # config16: the settings file, and a password typed where everyone can see it
    ("config-missing-file", "config check --config {new}.toml", B, "har 1 fejl"),
    ("desk-missing-config", "--config {new}.toml", B, "Indstillingsfilen findes ikke"),
    ("desk-password-typed", "desk --db postgresql+psycopg://u:{password}@h/db", B, "proceslisten"),
    ("board-url-unknown-kind", "board --db bogus://x --lang en", B, "'bogus'"),
    # --- kiosk15: the kiosk refuses before it draws anything
    ("kiosk-unknown-site", "kiosk --site nowhere", B, "Stedet 'nowhere'"),
    ("kiosk-site-without-queues", "kiosk --site frederiksberg --db {new}.db", B, "ingen køer"),
    ("kiosk-lang-de", "kiosk --lang de", U, "--lang kan ikke være 'de'"),
    ("kiosk-in-memory", "kiosk --db sqlite://", B, "i hukommelsen"),
    ("kiosk-missing-data", "kiosk --data {new}", B, "kan ikke bruges"),
    # serve16: triage serve refuses before it listens
    ("serve-unknown-role", "serve --role cashier", U, "--role kan ikke være 'cashier'"),
    ("serve-port-not-a-number", "serve --port abc", U, "--port skal være et helt tal"),
    ("serve-port-zero", "serve --port 0", B, "--port skal være et tal fra 1 til 65531"),
    ("serve-port-too-high", "serve --port 65535", B, "ikke 65535"),
    ("serve-bad-desk", "serve --desk 'Jens Hansen'", B, "Skrankens navn (--desk)"),
    (
        "serve-password-typed",
        f"serve --db postgresql://x:{PASSWORD}@127.0.0.1:1/t",
        B,
        "proceslisten",
    ),
    ("serve-host-not-here", "serve --host 192.0.2.1 --port 18500", B, "kan ikke lytte på"),
    # roles16: the PostgreSQL roles
    ("db-without-action", "db", U, "triage db skal have action med"),
    ("db-roles-sqlite", "db roles --db {good}", B, "Roller findes kun på PostgreSQL"),
    ("db-roles-default-db", "db roles --apply", B, "Roller findes kun på PostgreSQL"),
    (
        "db-roles-bad-prefix",
        f"db roles --db postgresql://x:{PASSWORD}@127.0.0.1:1/t --prefix Bad",
        B,
        "--prefix",
    ),
    (
        "db-roles-unreachable",
        f"db roles --apply --db postgresql+psycopg://x:{PASSWORD}@127.0.0.1:1/t",
        B,
        "kan ikke bruges",
    ),
    # --- numbers out of range
    (
        "export-min-count-negative",
        "export --db {good} --out {new}.xlsx --min-count -1",
        B,
        "--min-count",
    ),
    (
        "export-wait-minutes-0",
        "export --db {good} --out {new}.xlsx --wait-minutes 0",
        B,
        "--wait-minutes",
    ),
    (
        "export-wait-minutes-negative",
        "export --db {good} --out {new}.xlsx --wait-minutes -5",
        B,
        "--wait-minutes",
    ),
    (
        "export-wait-minutes-inf",
        "export --db {good} --out {new}.xlsx --wait-minutes inf",
        B,
        "mellem 0 og 1440",
    ),
    (
        "export-wait-minutes-nan",
        "export --db {good} --out {new}.xlsx --wait-minutes nan",
        B,
        "--wait-minutes",
    ),
    (
        "export-wait-minutes-huge",
        "export --db {good} --out {new}.xlsx --wait-minutes 1e300",
        B,
        "mellem 0 og 1440",
    ),
    (
        "export-wait-share-1",
        "export --db {good} --out {new}.xlsx --wait-share 1",
        B,
        "--wait-share",
    ),
    (
        "export-wait-share-0",
        "export --db {good} --out {new}.xlsx --wait-share 0",
        B,
        "--wait-share",
    ),
    (
        "export-wait-share-1.5",
        "export --db {good} --out {new}.xlsx --wait-share 1.5",
        B,
        "mellem 0 og 1 (fx 0,8)",
    ),
    (
        "export-wait-share-nan",
        "export --db {good} --out {new}.xlsx --wait-share nan",
        B,
        "--wait-share",
    ),
    (
        "export-visits-min-count",
        "export --db {good} --out {new}.csv --visits --format csv --min-count 5",
        B,
        "--min-count",
    ),
    ("rebalance-max-moves-0", "rebalance --db {good} --out {new} --max-moves 0", B, "--max-moves"),
    (
        "rebalance-max-moves-negative",
        "rebalance --db {good} --out {new} --max-moves -3",
        B,
        "--max-moves",
    ),
    ("demo-days-0", "demo --db {new}.db --days 0", B, "--days skal være fra 1 til 36.500"),
    ("demo-days-negative", "demo --db {new}.db --days -1", B, "--days skal være"),
    ("demo-per-day-0", "demo --db {new}.db --per-day 0", B, "--per-day fra 1 til 100.000"),
    ("demo-days-huge", "demo --db {new}.db --days 99999999", B, "--days skal være"),
    ("demo-per-day-huge", "demo --db {new}.db --per-day 999999999999", B, "--per-day fra 1"),
    (
        "demo-too-many-visits",
        "demo --db {new}.db --days 36500 --per-day 10000",
        B,
        "højst 50.000.000",
    ),
    (
        "demo-days-beyond-int64",
        "demo --db {new}.db --days 1000000000000000000000000",
        B,
        "--days skal være",
    ),
    (
        "demo-limits-english",
        "demo --db {new}.db --days 0 --lang en",
        B,
        "--days must be 1 to 36,500",
    ),
    # --- dates that cannot be read, or lie outside 1900-01-01 … 2999-12-31
    ("summary-month-13", "summary --db {good} --from 2026-13-01", B, "kan ikke læses"),
    ("summary-danish-date", "summary --db {good} --to 31/12/2026", B, "kan ikke læses"),
    ("summary-year-1", "summary --db {good} --from 0001-01-01", B, "uden for"),
    ("summary-year-9999", "summary --db {good} --to 9999-12-31", B, "uden for"),
    ("summary-backwards", "summary --db {good} --from 2026-11-30 --to 2026-11-01", B, "begynder"),
    ("summary-year-10000", "summary --db {good} --to 10000-01-01", B, "kan ikke læses"),
    (
        "summary-year-9999-english",
        "summary --db {good} --from 9999-12-31 --lang en",
        B,
        "outside the years",
    ),
    (
        "export-last-day-9999",
        "export --db {good} --out {new}.xlsx --from 9999-12-31 --to 9999-12-31",
        B,
        "uden for",
    ),
    ("export-to-year-1", "export --db {good} --out {new}.xlsx --to 0001-01-01", B, "uden for"),
    (
        "export-backwards",
        "export --db {good} --out {new}.xlsx --from 2026-11-30 --to 2026-11-01",
        B,
        "begynder",
    ),
    ("rebalance-from-1899", "rebalance --db {good} --out {new} --from 1899-12-31", B, "uden for"),
    ("rebalance-to-9999", "rebalance --db {good} --out {new} --to 9999-12-31", B, "uden for"),
    ("purge-before-9999", "purge --db {good} --before 9999-12-31", B, "uden for"),
    ("purge-before-year-1", "purge --db {good} --before 0001-01-01", B, "uden for"),
    ("purge-february-30", "purge --db {good} --before 2026-02-30", B, "kan ikke læses"),
    ("purge-in-the-future", "purge --db {good} --before 2999-01-01", B, "efter i dag"),
    ("purge-before-empty", 'purge --db {good} --before ""', B, "kan ikke læses"),
    ("demo-end-9999", "demo --db {new}.db --end 9999-12-31", B, "uden for"),
    ("demo-end-year-1", "demo --db {new}.db --end 0001-01-02", B, "uden for"),
    (
        "demo-starts-before-1900",
        "demo --db {new}.db --end 1900-06-01 --days 365",
        B,
        "før 1900-01-01",
    ),
    ("demo-end-banana", "demo --db {new}.db --end banana", B, "kan ikke læses"),
    ("route-at-9999", "route 1 1 --at 9999-12-31T23:59", B, "uden for"),
    ("route-at-year-1", "route 1 1 --at 0001-01-01T00:00", B, "uden for"),
    ("route-at-tomorrow", "route 1 1 --at tomorrow", B, "kan ikke læses"),
    ("route-at-hour-25", "route 1 1 --at 2026-11-23T25:00", B, "kan ikke læses"),
    # --- a wrong date is named with its option, whichever option it is
    ("purge-before-named", "purge --db {good} --before 1/1/2025", B, "'1/1/2025' efter --before"),
    ("demo-end-named", "demo --db {new}.db --end 2026-13-01 --lang en", B, "after --end cannot"),
    ("route-at-named", "route 1 1 --at 2026-11-23T25:00 --lang en", B, "after --at cannot"),
    (
        "rebalance-to-named",
        "rebalance --db {good} --out {new} --to 3000-01-01",
        B,
        "'3000-01-01' efter --to ligger uden for",
    ),
    # --- a database that does not exist: read-only commands never create an empty one
    ("summary-missing-db", "summary --db {new}.db", B, "findes ikke"),
    ("check-missing-db", "check --db {new}.db", B, "findes ikke"),
    ("export-missing-db", "export --db {new}.db --out {new}.xlsx", B, "findes ikke"),
    ("rebalance-missing-db", "rebalance --db {new}.db --out {new}", B, "findes ikke"),
    ("purge-missing-db", "purge --db {new}.db --before 2020-01-01", B, "findes ikke"),
    ("summary-missing-db-url", "summary --db sqlite:///{new}.db", B, "findes ikke"),
    ("check-missing-folder", "check --db {new}/x.db", B, "findes ikke"),
    ("summary-missing-db-english", "summary --db {new}.db --lang en", B, "does not exist"),
    (
        "flush-into-missing-folder",
        "spool flush --db {new}/x.db --spool-dir {spool}",
        B,
        "kan ikke bruges",
    ),
    ("demo-into-missing-folder", "demo --db {new}/x.db --days 2", B, "kan ikke bruges"),
    ("check-db-is-a-folder", "check --db {folder}", B, "kan ikke bruges"),
    # --- a file that is not a database, or a damaged one
    ("check-not-a-database", "check --db {hello}", B, "beskadiget"),
    ("summary-not-a-database", "summary --db {hello}", B, "beskadiget"),
    ("export-not-a-database", "export --db {hello} --out {new}.xlsx", B, "beskadiget"),
    ("purge-not-a-database", "purge --db {hello} --before 2020-01-01", B, "beskadiget"),
    ("flush-not-a-database", "spool flush --db {hello} --spool-dir {spool}", B, "beskadiget"),
    ("rebalance-not-a-database", "rebalance --db {hello} --out {new}", B, "beskadiget"),
    ("demo-not-a-database", "demo --db {hello} --days 2", B, "beskadiget"),
    ("check-random-bytes", "check --db {noise}", B, "beskadiget"),
    ("summary-random-bytes", "summary --db {noise}", B, "beskadiget"),
    ("check-truncated", "check --db {truncated}", B, "beskadiget"),
    ("summary-truncated", "summary --db {truncated}", B, "beskadiget"),
    (
        "export-visits-truncated",
        "export --db {truncated} --visits --format csv --out {new}.csv",
        B,
        "beskadiget",
    ),
    ("export-tables-truncated", "export --db {truncated} --out {new}.xlsx", B, "beskadiget"),
    ("rebalance-truncated", "rebalance --db {truncated} --out {new}", B, "beskadiget"),
    ("check-header-overwritten", "check --db {no_header}", B, "beskadiget"),
    (
        "export-json-header-overwritten",
        "export --db {no_header} --visits --format json --out {new}.json",
        B,
        "beskadiget",
    ),
    ("summary-not-a-database-english", "summary --db {hello} --lang en", B, "damaged"),
    ("desk-text-file", "--db {hello} --desk a", B, "ikke en SQLite-database"),
    ("check-repair-truncated", "check --repair --db {truncated_too}", B, "sikkerhedskopi"),
    # an empty file: opening it would make it an empty triage database
    ("summary-empty-file", "summary --db {empty_summary}", B, "ikke en triage-database"),
    ("check-empty-file", "check --db {empty_check}", B, "ikke en triage-database"),
    # a newer schema: the command's own message, not the desk's
    ("summary-newer-schema", "summary --db {newer}", B, "Opdatér triage på denne maskine"),
    ("check-newer-schema", "check --db {newer}", B, "Opdatér triage på denne maskine"),
    (
        "purge-newer-schema",
        "purge --db {newer} --before 2020-01-01",
        B,
        "Opdatér triage på denne maskine",
    ),
    # opens, but a page the figures need is damaged: the failure comes while counting
    ("summary-damaged-page", "summary --db {bad_page}", B, "beskadiget"),
    ("export-damaged-page", "export --db {bad_page} --out {new}.xlsx", B, "beskadiget"),
    ("rebalance-damaged-page", "rebalance --db {bad_page} --out {new}", B, "beskadiget"),
    # --- --db URLs that cannot be used
    ("check-mysql-without-driver", "check --db mysql://u@localhost/triage", B, "kan ikke bruges"),
    (
        "summary-unknown-scheme",
        "summary --db bogus://x",
        B,
        "ukendt databasetype 'bogus' (brug sqlite eller postgresql+psycopg)",
    ),
    (
        "export-port-not-a-number",
        "export --db postgresql+psycopg://u@localhost:abc/db --out {new}.xlsx",
        B,
        "portnummeret 'abc' er ikke et tal",
    ),
    ("check-only-separator", "check --db ://", B, "kan ikke bruges"),
    (
        "purge-closed-port",
        "purge --before 2020-01-01 --db postgresql+psycopg://u@127.0.0.1:1/db",
        B,
        "kan ikke bruges",
    ),
    (
        "flush-unknown-driver",
        "spool flush --spool-dir {spool} --db sqlite+nodriver:///x.db",
        B,
        "kan ikke bruges",
    ),
    ("demo-http-url", "demo --db http://example.invalid/x --days 2", B, "kan ikke bruges"),
    (
        "rebalance-password-not-shown",
        "rebalance --out {new} --db mysql+nosuchdriver://u:{password}@h/db",
        B,
        "kan ikke bruges",
    ),
    (
        "check-closed-port-password-not-shown",
        "check --db postgresql+psycopg://u:{password}@127.0.0.1:1/db",
        B,
        "kan ikke bruges",
    ),
    ("check-in-memory", "check --db sqlite://", B, "i hukommelsen"),
    ("summary-in-memory", "summary --db sqlite:///:memory:", B, "i hukommelsen"),
    ("flush-in-memory", "spool flush --db sqlite:// --spool-dir {spool}", B, "i hukommelsen"),
    ("demo-in-memory", "demo --db sqlite:///:memory: --days 2", B, "i hukommelsen"),
    (
        "export-in-memory-uri",
        "export --db sqlite:///file::memory:?cache=shared&uri=true --out {new}.xlsx",
        B,
        "i hukommelsen",
    ),
    ("desk-in-memory", "desk --db sqlite://", B, "i hukommelsen"),
    ("desk-in-memory-implicit", "--db sqlite:///:memory:", B, "i hukommelsen"),
    ("desk-in-memory-english", "--db sqlite:// --lang en", B, "in-memory database"),
    ("desk-url-no-driver", "desk --db mysql://x/y", B, "kan ikke bruges"),
    ("desk-url-unknown-kind", "desk --db bogus://x", B, "ukendt databasetype 'bogus'"),
    (
        "desk-url-port-no-number",
        "desk --db postgresql://h:abc/db",
        B,
        "portnummeret 'abc' er ikke et tal",
    ),
    ("desk-url-no-scheme", "--db ://x", B, "kan ikke bruges"),
    ("purge-read-only", "purge --before 2020-01-01 --db {read_only}", B, "Intet er ændret"),
    # --- data folders that cannot be used
    ("validate-missing-data", "validate --data {new}", B, "Ret fejlene"),
    ("validate-data-is-a-file", "validate --data {notes}", B, "Ret fejlene"),
    ("validate-broken-data", "validate --data {broken_data}", B, "Ret fejlene"),
    ("route-missing-data", "route 1 1 --data {new}", B, "kan ikke bruges"),
    ("summary-empty-data", "summary --db {good} --data {folder}", B, "kan ikke bruges"),
    (
        "export-broken-data",
        "export --db {good} --data {broken_data} --out {new}.xlsx",
        B,
        "kan ikke bruges",
    ),
    (
        "rebalance-broken-data",
        "rebalance --db {good} --data {broken_data} --out {new}",
        B,
        "kan ikke bruges",
    ),
    ("demo-missing-data", "demo --db {new}.db --data {new}", B, "kan ikke bruges"),
    ("desk-missing-data", "desk --data {new}", B, "kan ikke bruges"),
    ("desk-broken-data", "--data {broken_data}", B, "sites.toml:"),
    ("desk-unknown-site", "desk --site jc-nowhere", B, "findes ikke"),
    ("desk-unknown-site-implicit", "--site jc-nowhere", B, "findes ikke"),
    ("desk-unknown-theme", "desk --theme nope", B, "findes ikke"),
    ("route-unknown-site", "route 1 1 --site nowhere", B, "findes ikke"),
    ("summary-unknown-site", "summary --db {good} --site jc-nowhere", B, "findes ikke"),
    (
        "export-unknown-site",
        "export --db {good} --site jc-nowhere --out {new}.xlsx",
        B,
        "findes ikke",
    ),
    ("route-not-a-postcode", "route 4 24", B, "ikke et postnummer"),
    ("route-no-such-key", "route 9 8", B, "findes ikke her"),
    ("route-unfinished", "route 4", B, "postnummer"),
    ("validate-mermaid-into-folder", "validate --mermaid {folder}", B, "Kan ikke skrive"),
    # --- --out targets that must not be written
    ("export-out-empty", 'export --db {good} --out ""', B, "--out er tom"),
    ("export-out-folder", "export --db {good} --out {folder}", B, "er en mappe"),
    ("export-json-out-folder", "export --db {good} --format json --out {folder}", B, "er en mappe"),
    ("export-out-pipe", "export --db {good} --out {pipe}", B, "ikke en almindelig fil"),
    (
        "export-out-link-to-device",
        "export --db {good} --out {to_device}",
        B,
        "--out er et link; skriv stien til selve filen",
    ),
    (
        "export-json-out-link-to-a-file",
        "export --db {good} --format json --out {to_notes}",
        B,
        "--out er et link; skriv stien til selve filen",
    ),
    ("export-out-other-file", "export --db {good} --out {notes}", B, "slet filen først"),
    ("export-out-plain-xlsx", "export --db {good} --out {plain_xlsx}", B, "slet filen først"),
    (
        "export-visits-out-plain-csv",
        "export --db {good} --visits --format csv --out {plain_csv}",
        B,
        "slet filen først",
    ),
    ("export-out-missing-folders", "export --db {good} --out {new}/a/b/c.xlsx", B, "findes ikke"),
    ("export-csv-tables-out-file", "export --db {good} --format csv --out {notes}", B, "er en fil"),
    ("export-out-the-database", "export --db {good} --out {good}", B, "slet filen først"),
    (
        "export-out-below-a-file",
        "export --db {good} --out {notes}/sub.xlsx",
        B,
        "Kunne ikke skrive",
    ),
    (
        "export-visits-csv-out-folder",
        "export --db {good} --visits --format csv --out {folder}",
        B,
        "er en mappe",
    ),
    (
        "export-visits-json-out-pipe",
        "export --db {good} --visits --format json --out {pipe}",
        B,
        "ikke en almindelig fil",
    ),
    (
        "export-out-device-english",
        "export --db {good} --out {to_device} --lang en",
        B,
        "--out is a link",
    ),
    ("rebalance-out-empty", 'rebalance --db {good} --out ""', B, "--out er tom"),
    ("rebalance-out-file", "rebalance --db {good} --out {notes}", B, "er en fil"),
    (
        "rebalance-out-data-folder",
        "rebalance --db {good} --data {data} --out {data}",
        B,
        "selve datamappen",
    ),
    # --- report14: the committee's monthly report
    ("report-without-out", "report --month 2026-10", U, "triage report skal have --out med"),
    ("report-month-13", "report --db {good} --out {new}.html --month 2026-13", B, "kan ikke læses"),
    ("report-month-words", "report --db {good} --out {new}.html --month okt", B, "2026-10"),
    ("report-month-future", "report --db {good} --out {new}.html --month 2999-12", B, "begyndt"),
    ("report-month-0999", "report --db {good} --out {new}.html --month 0999-01", B, "uden for"),
    ("report-missing-db", "report --db {new}.db --out {new}.html", B, "findes ikke"),
    ("report-not-a-database", "report --db {hello} --out {new}.html", B, "beskadiget"),
    ("report-out-exists", "report --db {good} --out {notes}", B, "--force"),
    ("report-out-folder", "report --db {good} --out {folder}", B, "er en mappe"),
    ("report-out-pipe", "report --db {good} --out {pipe} --force", B, "ikke en almindelig fil"),
    ("report-out-device", "report --db {good} --out {to_device} --force", B, "link"),
    ("report-out-empty", 'report --db {good} --out ""', B, "--out er tom"),
    (
        "report-password-not-shown",
        "report --out {new}.html --db postgresql+psycopg://u:{password}@127.0.0.1:1/db",
        B,
        "kan ikke bruges",
    ),
    (
        "report-broken-data",
        "report --db {good} --data {broken_data} --out {new}.html",
        B,
        "kan ikke bruges",
    ),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, str]:
    """Real files to go wrong with: a small good database, files that are not databases or
    are damaged ones, a read-only one, a folder, a pipe, a link to a device, data folders."""
    from triage.cli import main

    root = tmp_path_factory.mktemp("fuzz")
    good = root / "good.db"
    assert (
        main(["demo", "--db", str(good), "--days", "20", "--per-day", "60", "--end", "2026-11-23"])
        == 0
    )
    with sqlite3.connect(good) as conn:  # everything into the main file, to copy and damage
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = good.read_bytes()
    (root / "hello.db").write_text("hello\n")
    (root / "noise.db").write_bytes(random.Random(12).randbytes(8192))
    (root / "truncated.db").write_bytes(raw[: len(raw) // 3])
    (root / "no_header.db").write_bytes(b"\0" * 100 + raw[100:])
    with sqlite3.connect(good) as conn:  # the rollups' first pages: every figure reads one
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            p
            for (p,) in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name LIKE 'visit_%'"
            )
        ]
    damaged = bytearray(raw)
    for page in pages:
        damaged[(page - 1) * size : page * size] = b"\xff" * size
    (root / "bad_page.db").write_bytes(bytes(damaged))
    read_only = root / "read_only.db"
    shutil.copy(good, read_only)
    (root / "truncated_too.db").write_bytes(raw[: len(raw) // 3])  # for --repair alone
    for command in ("summary", "check"):
        (root / f"empty_{command}.db").write_bytes(b"")
    newer = root / "newer.db"
    shutil.copy(good, newer)
    conn = sqlite3.connect(newer)
    conn.execute(
        "UPDATE triage_meta SET value = '99' WHERE key IN ('schema_version', 'writable_from')"
    )
    conn.commit()
    conn.close()  # the last connection: its -wal file goes too
    (root / "folder").mkdir()
    (root / "notes.txt").write_text("notes that are not an export\n")
    (root / "plain_xlsx.xlsx").write_text("the planner's own notes\n")
    (root / "plain_csv.csv").write_text("the planner's own notes\n")
    (root / "to_notes.json").symlink_to(root / "notes.txt")
    os.mkfifo(root / "pipe")
    (root / "to_device.xlsx").symlink_to(os.devnull)
    shutil.copytree(SHIPPED, root / "data")
    shutil.copytree(SHIPPED, root / "broken_data")
    edit(root / "broken_data" / "sites.toml", 'kind = "sygedagpenge"', "kind = sygedagpenge")
    (root / "spool").mkdir()
    (root / "made").mkdir()
    places = {p.stem: str(p) for p in root.iterdir()}
    places["read_only"] = f"sqlite:///file:{read_only}?mode=ro&uri=true"
    places["root"] = str(root)
    return places


def _run(
    case_id: str, words: str, places: dict[str, str]
) -> tuple[subprocess.CompletedProcess, float]:
    fresh = Path(places["root"]) / "made" / case_id
    argv = [a.format(new=fresh, password=PASSWORD, **places) for a in shlex.split(words)]
    home = Path(places["root"]) / "home" / case_id
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DATA"}
    env.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"),
        PYTHONPATH=str(ROOT),
    )
    started = time.perf_counter()
    command = [sys.executable, "-m", "triage.cli", *argv]
    try:
        done = subprocess.run(
            command,
            cwd=places["root"],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as stopped:  # e.g. a demo of a billion visits a day
        done = subprocess.CompletedProcess(
            command, None, _text(stopped.stdout), _text(stopped.stderr)
        )
    return done, time.perf_counter() - started


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


@pytest.fixture(scope="module")
def results(workspace, request) -> dict[str, tuple[subprocess.CompletedProcess, float]]:
    """Every selected case run once, a few processes at a time (the machine may be busy)."""
    chosen = {
        item.callspec.id
        for item in request.session.items
        if item.originalname == "test_bad_invocation" and hasattr(item, "callspec")
    }
    todo = [(case_id, args) for case_id, args, _, _ in CASES if case_id in chosen]
    with ThreadPoolExecutor(max_workers=4) as pool:
        finished = pool.map(lambda case: _run(*case, workspace), todo)
        return {case_id: result for (case_id, _), result in zip(todo, finished, strict=True)}


def test_the_table_covers_every_command():
    from triage.cli import COMMANDS

    assert len(CASES) >= 100 and len({c[0] for c in CASES}) == len(CASES)
    first = [shlex.split(words)[0] for _, words, _, _ in CASES]
    named = {word if not word.startswith("-") else "desk" for word in first}
    assert set(COMMANDS) <= named


@pytest.mark.parametrize("case_id,words,code,says", CASES, ids=[c[0] for c in CASES])
def test_bad_invocation(case_id, words, code, says, results, workspace):
    done, seconds = results[case_id]
    output = done.stdout + done.stderr
    assert done.returncode is not None, f"still running after {seconds:.0f} s"
    assert "Traceback" not in output and "Exception ignored" not in output, output
    assert done.returncode == code, output
    assert done.stderr.strip(), "no message on stderr"
    assert says in done.stderr, done.stderr
    if code == U:  # said in the person's language, with where to read more; not argparse's
        assert "usage:" not in done.stderr and "error:" not in done.stderr, done.stderr
        assert "--help" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert PASSWORD not in output
    assert "\x1b[" not in done.stdout  # the desk's screen never started
    left = [p.name for p in (Path(workspace["root"]) / "made").iterdir() if case_id in p.name]
    assert not left, "a failed command left a file or folder behind"
    if "{good}" in words:
        assert Path(workspace["good"]).read_bytes()  # still there, still a file
    for name in ("notes", "plain_xlsx", "plain_csv", "to_notes"):  # not written, nor through
        if f"{{{name}}}" in words:  # a link to them
            assert Path(workspace[name]).read_text() in (
                "notes that are not an export\n",
                "the planner's own notes\n",
            )
    for command in ("summary", "check"):
        if f"{{empty_{command}}}" in words:
            assert Path(workspace[f"empty_{command}"]).stat().st_size == 0  # not made a database


# --- the last resort, a locked or read-only database, a full disk --------------------------------


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TRIAGE_DATA"}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "home" / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _python(code: str, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def _triage(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "triage.cli", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


# A fault no one foresaw, forced from outside: the code under test has no hook for it.
CRASHING = """
import sys
from triage import cli

def broken(*_args, **_kwargs):
    raise RuntimeError("a fault no one foresaw")

cli._open_store = broken  # every command that uses the database opens it here
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    "lang,says", [("da", "Uventet fejl i triage"), ("en", "Unexpected error in triage")]
)
def test_last_resort_says_one_line_and_writes_the_report(tmp_path, workspace, lang, says):
    done = _python(
        CRASHING,
        "check",
        "--db",
        workspace["good"],
        "--lang",
        lang,
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    assert done.returncode == 70
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert says in line and "RuntimeError: a fault no one foresaw" in line
    (report,) = (tmp_path / "state" / "triage").glob("crash-*.txt")
    assert str(report) in line
    text = report.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text and "in broken" in text
    assert text.rstrip().endswith("RuntimeError: a fault no one foresaw")
    assert f"command: triage check --db {workspace['good']} --lang {lang}" in text


def test_last_resort_report_keeps_no_password(tmp_path):
    url = f"postgresql+psycopg://clerk:{PASSWORD}@db.example/triage"
    done = _python(CRASHING, "summary", "--db", url, env=_env(tmp_path), cwd=tmp_path)
    assert done.returncode == 70, done.stderr
    (report,) = (tmp_path / "state" / "triage").glob("crash-*.txt")
    text = report.read_text(encoding="utf-8")
    assert "clerk:***@db.example" in text and PASSWORD not in text + done.stderr


def test_last_resort_without_a_state_folder_uses_the_temporary_folder(tmp_path, workspace):
    (tmp_path / "state").write_text("a file where the state folder should be")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = _python(
        CRASHING,
        "check",
        "--db",
        workspace["good"],
        env=_env(tmp_path, TMPDIR=str(scratch)),
        cwd=tmp_path,
    )
    assert done.returncode == 70
    (report,) = scratch.glob("crash-*.txt")
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and str(report) in done.stderr


def _visits(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM visit").fetchone()[0]


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


def test_purge_on_a_locked_database_says_so_and_deletes_nothing(tmp_path, workspace):
    db = tmp_path / "locked.db"
    shutil.copy(workspace["good"], db)
    before = _visits(db)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = _triage("purge", "--before", "2026-11-20", "--db", str(db), tmp_path=tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "et andet program har låst databasen" in done.stderr and "Intet er ændret" in done.stderr
    assert _visits(db) == before > 0


def test_purge_on_a_read_only_file_says_so_and_deletes_nothing(tmp_path, workspace):
    db = tmp_path / "read-only.db"
    shutil.copy(workspace["good"], db)
    before = _visits(db)
    db.chmod(0o444)
    immutable = os.access(db, os.W_OK)  # root may write anyway: then make the file immutable
    if immutable and subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode != 0:
        pytest.skip("root, and chattr +i is not possible here: no way to make a file read-only")
    try:
        done = _triage("purge", "--before", "2026-11-20", "--db", str(db), tmp_path=tmp_path)
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(db)], check=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "readonly" in done.stderr or "read-only" in done.stderr, done.stderr
    assert _visits(db) == before > 0


# The file size limit stands in for a full disk: a write past it fails with EFBIG.
FULL_DISK = """
import resource, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
from triage.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("what", [["--visits"], []], ids=["visits", "tables"])
def test_xlsx_on_a_full_disk_one_message_nothing_left(tmp_path, workspace, what):
    scratch = tmp_path / "scratch"  # where XlsxWriter's scratch files would go
    scratch.mkdir()
    out = tmp_path / "out" / "full.xlsx"
    out.parent.mkdir()  # the export makes no folder
    done = _python(
        FULL_DISK,
        "40000",
        "export",
        "--db",
        workspace["good"],
        "--out",
        str(out),
        *what,
        env=_env(tmp_path, TMPDIR=str(scratch)),
        cwd=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Kunne ikke skrive {out}:") and "ikke plads" in line
    assert "frigør plads" in line and ".part" not in line
    assert list(out.parent.iterdir()) == [] and list(scratch.iterdir()) == []


@pytest.mark.parametrize("what", [["--visits"], []], ids=["visits", "tables"])
def test_xlsx_on_a_really_full_filesystem(tmp_path, workspace, what):
    """A tiny filesystem of its own that fills up: XlsxWriter's zip file fails as it is written
    (where the file size limit stops its scratch files first), and is closed quietly."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("needs to mount a small tmpfs (root)")
    try:
        done = _triage(
            "export",
            *what,
            "--db",
            workspace["good"],
            "--out",
            str(disk / "full.xlsx"),
            tmp_path=tmp_path,
        )
        left = list(disk.iterdir())
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "der er ikke plads på disken" in line and "frigør plads" in line
    assert left == []


# --- check changes nothing; damaged files, full disks, closed pipes, a missing driver ------------


def _triggers_and_meta(db: Path) -> tuple[list, list]:
    with sqlite3.connect(db) as conn:
        triggers = sorted(conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        return triggers, sorted(conn.execute("SELECT key, value FROM triage_meta"))


def test_check_reports_a_dropped_trigger_and_puts_nothing_back(tmp_path, workspace):
    db = tmp_path / "dropped.db"
    shutil.copy(workspace["good"], db)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER visit_rollup_insert")
    before = _triggers_and_meta(db)
    done = _triage("check", "--db", str(db), tmp_path=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "visit_rollup_insert mangler" in done.stdout and "lagt på igen" not in done.stdout
    assert _triggers_and_meta(db) == before  # only --repair changes anything (test_schema)


def test_check_and_repair_say_the_same_of_a_truncated_file(tmp_path, workspace):
    db = tmp_path / "truncated.db"
    raw = Path(workspace["good"]).read_bytes()
    db.write_bytes(raw[: len(raw) // 3])
    with ThreadPoolExecutor(max_workers=2) as pool:  # side by side: the suite stays quick
        plain, repair = pool.map(
            lambda more: _triage("check", *more, "--db", str(db), tmp_path=tmp_path),
            ([], ["--repair"]),
        )
    assert plain.returncode == repair.returncode == 1
    assert "beskadiget" in plain.stderr and "sikkerhedskopi" in plain.stderr
    assert repair.stderr == plain.stderr
    assert db.read_bytes() == raw[: len(raw) // 3]


def _small_disk(tmp_path: Path) -> Path:
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(disk)]
    if os.geteuid() != 0 or subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("needs to mount a small tmpfs (root)")
    return disk


def test_demo_on_a_full_disk_says_so_and_leaves_no_file(tmp_path):
    disk = _small_disk(tmp_path)
    try:
        done = _triage("demo", "--db", str(disk / "demo.db"), "--days", "2", tmp_path=tmp_path)
        left = list(disk.iterdir())
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert done.returncode == 1
    assert "disken er fuld" in done.stderr and "Tjek stien" not in done.stderr, done.stderr
    assert left == []


def test_rebalance_on_a_full_disk_names_its_file_and_leaves_nothing(tmp_path, workspace):
    disk = _small_disk(tmp_path)
    out = disk / "forslag"
    try:
        done = _triage("rebalance", "--db", workspace["good"], "--out", str(out), tmp_path=tmp_path)
        left = list(disk.iterdir())
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"Kunne ikke skrive {out}:") and "site-packages" not in line, line
    assert "frigør plads" in line
    assert left == []  # no half-written file, and not the folder it made


def test_rebalance_into_a_closed_pipe_still_writes_the_proposal(tmp_path, workspace):
    """`triage rebalance … | head -1`: the reader may be gone before the first line."""
    read, write = os.pipe()
    os.close(read)
    out = tmp_path / "forslag"
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "triage.cli",
                "rebalance",
                "--db",
                workspace["good"],
                "--out",
                str(out),
            ],
            cwd=tmp_path,
            env=_env(tmp_path, PYTHONUNBUFFERED="1"),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(write)
    assert "Traceback" not in done.stderr
    assert done.returncode == 0
    assert {p.name for p in out.iterdir()} >= {"flow.toml", "sites.toml"}


def test_a_missing_postgres_driver_is_named_with_the_way_to_install_it(tmp_path):
    blocked = tmp_path / "blocked"  # a Python where the driver is not installed
    blocked.mkdir()
    (blocked / "psycopg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'psycopg'\", name='psycopg')\n"
    )
    env = {**_env(tmp_path), "PYTHONPATH": f"{blocked}{os.pathsep}{ROOT}"}
    url = "postgresql+psycopg://u@localhost/triage"

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "triage.cli", command, "--db", url],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(run, ("summary", "desk")))
    for done in runs:
        assert done.returncode == 1, done.stderr
        assert (
            "driveren til PostgreSQL er ikke installeret: kør pip install '.[postgres]'"
            in done.stderr
        ), done.stderr
        assert "No module named" not in done.stderr
