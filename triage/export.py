"""Files for the planners: footfall tables as CSV, Excel or JSON, and visit-level rows.

Plain Python over the store's rollups (the tables) and its visit table (`--visits`); no Textual.
Everything a person reads in the files (sheet names, headers, weekday names) comes from the
i18n catalog, in Danish or English.

Rules that hold for every format:
- a text cell can never turn into a formula in Excel or LibreOffice: a text beginning with
  = + - @ tab or CR gets a leading apostrophe (CSV and Excel; JSON keeps the text as it is);
- with `min_count`, counts below it are left empty, with whatever could give them away, and the
  "about" table says so;
- a file is written under a temporary name and renamed when complete, so a full disk or a
  broken connection never leaves half a file under the real name;
- only a regular file is ever replaced, and only one the person meant to replace: an earlier
  export of the same kind (its name ends in .xlsx, .json or .csv). A device, a pipe, a folder
  or any other file is refused with a message (as root, /dev/null would otherwise be replaced).
"""

from __future__ import annotations

import csv
import json
import os
import stat
import tempfile
from contextlib import contextmanager, suppress
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from triage.i18n import t
from triage.sites import Sites
from triage.staffing import DEFAULT_WAIT_MINUTES, DEFAULT_WAIT_SHARE, counters_needed
from triage.stats import Filters, is_misdirected, postcode_counts, summarize, visit_counts
from triage.store import Store

FORMATS = ("csv", "xlsx", "json")
SUFFIXES = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_576  # Excel's limit per sheet, the header row included
EXPORT_VERSION = 1

Progress = Callable[[float], None]


def safe_text(value: str) -> str:
    """A text that a spreadsheet shows as text, never evaluates (CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass(frozen=True)
class Column:
    key: str
    kind: str = "text"  # text | int | number | share | date | datetime (UTC)
    count: bool = False  # a count that min_count may suppress
    derived: bool = False  # left empty too when the row's count is suppressed


@dataclass
class Table:
    key: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)

    def title(self, lang: str) -> str:
        return t(f"exp_table_{self.key}", lang)

    def headers(self, lang: str) -> list[str]:
        return [t(f"exp_col_{c.key}", lang) for c in self.columns]


@dataclass
class Export:
    start: date
    end: date  # excluded
    lang: str
    min_count: int
    tables: list[Table]
    suppressed: int = 0  # cells left empty because of min_count


@dataclass(frozen=True)
class Options:
    start: date
    end: date  # excluded
    lang: str = "da"
    filters: Filters = Filters()
    min_count: int = 0
    wait_minutes: float = DEFAULT_WAIT_MINUTES
    wait_share: float = DEFAULT_WAIT_SHARE


# --- the tables ----------------------------------------------------------------------


def build(store: Store, sites: Sites, options: Options, progress: Progress | None = None) -> Export:
    """Every table for the period, from the rollups (purged days count)."""
    start, end, lang, filters = options.start, options.end, options.lang, options.filters
    step = _stepper(progress, 7)
    tables: list[Table] = []

    hourly = visit_counts(store, start, end, ("site_id", "local_date", "local_hour"), filters=filters)
    step()
    per_day: dict[tuple, int] = {}
    for (site, day, _hour), visits in hourly.items():
        per_day[(site, day)] = per_day.get((site, day), 0) + visits
    tables.append(Table("per_day", [Column("site_id"), Column("site_name"), Column("date", "date"),
                                    Column("weekday"), Column("visits", "int", count=True)],
                        [[s, sites.name_of(s, lang), _day(d), t(f"weekday_{_day(d).weekday()}", lang), n]
                         for (s, d), n in sorted(per_day.items(), key=lambda i: (str(i[0][1]), i[0][0]))]))
    tables.append(Table("per_hour", [Column("site_id"), Column("site_name"), Column("date", "date"),
                                     Column("hour", "int"), Column("visits", "int", count=True)],
                        [[s, sites.name_of(s, lang), _day(d), h, n]
                         for (s, d, h), n in sorted(hourly.items(), key=lambda i: (str(i[0][1]), i[0][2], i[0][0]))]))

    destinations = visit_counts(store, start, end, ("site_id", "destination_id"), filters=filters)
    step()
    tables.append(Table("destinations", [
        Column("site_id"), Column("site_name"), Column("destination_id"), Column("destination_name"),
        Column("destination_kind"), Column("visits", "int", count=True)],
        [[s, sites.name_of(s, lang), d, sites.name_of(d, lang),
          t(f"kind_{sites[d].kind if d in sites else 'external'}", lang), n]
         for (s, d), n in sorted(destinations.items(), key=lambda i: (i[0][0], -i[1], i[0][1]))]))

    homes = visit_counts(store, start, end, ("postcode_site_id", "site_id"), filters=filters)
    step()
    tables.append(Table("misdirection", [
        Column("home_site_id"), Column("home_site_name"), Column("site_id"), Column("site_name"),
        Column("misdirected"), Column("visits", "int", count=True)],
        [[h, sites.name_of(h, lang), s, sites.name_of(s, lang), _yes(is_misdirected(sites, h, s), lang), n]
         for (h, s), n in sorted(homes.items()) if h]))

    postcodes = postcode_counts(store, start, end, filters)
    step()
    tables.append(Table("misdirection_postcode", [
        Column("postcode", "int"), Column("home_site_id"), Column("site_id"), Column("site_name"),
        Column("misdirected"), Column("visits", "int", count=True)],
        [[p, h, s, sites.name_of(s, lang), _yes(is_misdirected(sites, h, s), lang), n]
         for (p, h, s), n in sorted(postcodes.items())]))

    summary = summarize(store, sites, start, end, filters)
    step()
    tables.append(Table("shares", [
        Column("site_id"), Column("site_name"), Column("visits", "int", count=True),
        Column("share", "share", derived=True), Column("target", "share"),
        Column("imbalance", "share", derived=True)],
        [[x.site_id, sites.name_of(x.site_id, lang), x.visits, x.share, x.target, x.imbalance]
         for x in summary.sites]))

    tables.append(_staffing(store, sites, options))
    step()
    export = Export(start, end, lang, options.min_count, tables)
    if options.min_count > 1:
        for table in tables:
            export.suppressed += _suppress(table, options.min_count)
    tables.insert(0, _about(export, options, summary.total))
    step()
    return export


def _staffing(store: Store, sites: Sites, options: Options) -> Table:
    """Counters needed per site, weekday and hour, from the period's average arrivals in person
    (phone calls take no counter) on the days the site had visits."""
    start, end, lang = options.start, options.end, options.lang
    in_person = Filters(sites=options.filters.sites, destinations=options.filters.destinations,
                        channels=("in_person",), include_demo=options.filters.include_demo)
    counts = visit_counts(store, start, end, ("site_id", "local_weekday", "local_hour"), filters=in_person)
    open_days: dict[tuple[str, int], int] = {}
    for (site, day), _ in visit_counts(store, start, end, ("site_id", "local_date"), filters=in_person).items():
        key = (site, _day(day).weekday())
        open_days[key] = open_days.get(key, 0) + 1
    rows = []
    for (site, weekday, hour), visits in sorted(counts.items()):
        days = open_days.get((site, weekday), 0)
        service = sites[site].service_minutes if site in sites else None
        capacity = sites[site].capacity if site in sites else None
        arrivals = visits / days if days else 0.0
        if service:
            need = counters_needed(arrivals, service, options.wait_minutes, options.wait_share)
            counters, served = need.counters, need.served_within
        else:
            counters = served = None
        rows.append([site, sites.name_of(site, lang), t(f"weekday_{weekday}", lang), hour, days, visits,
                     round(arrivals, 2), service, counters, served, capacity])
    return Table("staffing", [
        Column("site_id"), Column("site_name"), Column("weekday"), Column("hour", "int"),
        Column("days", "int"), Column("visits", "int", count=True),
        Column("arrivals_per_hour", "number", derived=True), Column("service_minutes", "number"),
        Column("counters_needed", "int", derived=True), Column("served_within", "share", derived=True),
        Column("counters_today", "int")], rows)


def _about(export: Export, options: Options, total: int) -> Table:
    lang = options.lang
    last = export.end - timedelta(days=1)
    lines = [
        ("exp_about_period", t("exp_about_period_value", lang, start=export.start.isoformat(), end=last.isoformat())),
        ("exp_about_made", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")),
        ("exp_about_visits", str(total)),
        ("exp_about_sites", ", ".join(options.filters.sites) if options.filters.sites else t("exp_all", lang)),
        ("exp_about_demo", t("exp_yes" if options.filters.include_demo else "exp_no", lang)),
        ("exp_about_small", t("exp_about_small_value", lang, k=options.min_count, cells=export.suppressed)
         if options.min_count > 1 else t("exp_about_small_none", lang)),
        ("exp_about_staffing", t("exp_about_staffing_value", lang, share=f"{options.wait_share * 100:.0f}",
                                 minutes=f"{options.wait_minutes:g}")),
        ("exp_about_misdirected", t("exp_about_misdirected_value", lang)),
        ("exp_about_personal", t("exp_about_personal_value", lang)),
    ]
    return Table("about", [Column("item"), Column("value")], [[t(k, lang), v] for k, v in lines])


def _suppress(table: Table, k: int) -> int:
    counts = [i for i, c in enumerate(table.columns) if c.count]
    derived = [i for i, c in enumerate(table.columns) if c.derived]
    suppressed = 0
    for row in table.rows:
        small = [i for i in counts if row[i] is not None and 0 < row[i] < k]
        if small:
            for i in small + derived:
                if row[i] is not None:
                    row[i] = None
                    suppressed += 1
    return suppressed


def _yes(value: bool, lang: str) -> str:
    return t("exp_yes" if value else "exp_no", lang)


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _stepper(progress: Progress | None, steps: int) -> Callable[[], None]:
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(min(done / steps, 1.0))
    return step


# --- writing the tables ------------------------------------------------------------------


def _number_text(value, kind: str, decimal_comma: bool) -> str:
    if value is None:
        return ""
    if kind == "date":
        return value.isoformat()
    if kind in ("share", "number"):
        text_value = f"{value:.4f}" if kind == "share" else f"{value:g}"
        return text_value.replace(".", ",") if decimal_comma else text_value
    if kind == "text":
        return safe_text(str(value))
    return str(value)


def check_target(out: Path, fmt: str, folder: bool = False) -> None:
    """Refuse, before any work, an `out` the export must not write (ExportError says why):
    for a folder of CSV files, an existing file; for one file, see _check_replaceable."""
    if folder:
        if out.exists() and not out.is_dir():
            raise ExportError("out_file_for_folder", path=out)
        return
    _check_replaceable(out, SUFFIXES[fmt])


def _check_replaceable(path: Path, suffix: str) -> None:
    """A new name is fine; an existing one only when it is a regular file (a link is followed:
    a link to a device is a device) whose name ends in `suffix`, i.e. an earlier export."""
    try:
        found = path.stat()
    except OSError:
        return  # nothing there (or not reachable: the write itself then says why)
    if stat.S_ISDIR(found.st_mode):
        raise ExportError("out_folder", path=path, example=path / f"triage{suffix}")
    if not stat.S_ISREG(found.st_mode):
        raise ExportError("out_special", path=path)
    if path.suffix.lower() != suffix:
        raise ExportError("out_not_export", path=path, suffix=suffix)


@contextmanager
def _replacing(path: Path, suffix: str) -> Iterator[Path]:
    """Yield the temporary name to write `path` under; rename it into place only when the
    block completes, and remove it when it does not (the folder is made if missing). Through
    a link, the file it points at is replaced, not the link."""
    _check_replaceable(path, suffix)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def _text_file(path: Path, suffix: str, encoding: str, newline: str | None = None):
    """A text file that appears whole (flushed to disk) or not at all."""
    with (_replacing(path, suffix) as temporary,
          open(temporary, "w", encoding=encoding, newline=newline) as out):
        yield out
        out.flush()
        os.fsync(out.fileno())


@contextmanager
def _workbook(path: Path):
    """An XlsxWriter workbook (streamed: constant memory) and its formats, appearing whole or
    not at all. XlsxWriter writes the file on close and wraps OS errors in its own: unwrapped.
    Its scratch files go to a folder of our own, removed however the writing ends."""
    import xlsxwriter
    from xlsxwriter.exceptions import FileCreateError

    with (_replacing(path, SUFFIXES["xlsx"]) as temporary,
          tempfile.TemporaryDirectory(prefix="triage-xlsx-") as scratch):
        book = xlsxwriter.Workbook(str(temporary), {"constant_memory": True, "tmpdir": scratch})
        try:
            yield book, _xlsx_formats(book)
            try:
                book.close()
            except FileCreateError as error:
                cause = error.__context__ if isinstance(error.__context__, OSError) else None
                raise cause or OSError(str(error)) from error
        except BaseException as error:
            _abandon(book, error)
            raise


def _abandon(book, error: BaseException) -> None:
    """Close what XlsxWriter left open when writing failed (a full disk): its sheets' scratch
    files and its zip file. Left to the garbage collector, they would try to write once more
    and print "Exception ignored … Traceback" after the message."""
    from zipfile import ZipFile

    for sheet in book.worksheets():
        handle = getattr(sheet, "row_data_fh", None)
        if handle is not None:
            with suppress(OSError, ValueError):
                handle.close()  # a failed flush still closes the file
    seen: set[int] = set()
    while error is not None and id(error) not in seen:  # the zip file is a local of the failed call
        seen.add(id(error))
        trace = error.__traceback__
        while trace is not None:
            for value in list(trace.tb_frame.f_locals.values()):
                if isinstance(value, ZipFile) and value.fp is not None:
                    handle, value.fp = value.fp, None
                    with suppress(OSError, ValueError):
                        handle.close()
            trace = trace.tb_next
        error = error.__cause__ or error.__context__


def csv_dialect(excel_da: bool) -> dict:
    """Plain comma CSV, or what Danish Excel expects: semicolons (and decimal commas)."""
    return {"delimiter": ";" if excel_da else ",", "lineterminator": "\r\n"}


def write_csv(export: Export, folder: Path, excel_da: bool = False) -> list[Path]:
    """One UTF-8 file (with the byte-order mark Excel looks for) per table, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in export.tables:
        path = folder / f"{t(f'exp_file_{table.key}', export.lang)}.csv"
        with _text_file(path, ".csv", "utf-8-sig", newline="") as out:
            writer = csv.writer(out, **csv_dialect(excel_da))
            writer.writerow([safe_text(h) for h in table.headers(export.lang)])
            kinds = [c.kind for c in table.columns]
            writer.writerows([_number_text(v, k, excel_da) for v, k in zip(row, kinds)] for row in table.rows)
        written.append(path)
    return written


def _json_value(value, kind: str):
    if value is None:
        return None
    if kind == "date":
        return value.isoformat()
    if kind == "share":
        return round(value, 6)
    return value


def write_json(export: Export, path: Path) -> Path:
    document = {
        "format": "triage-export",
        "version": EXPORT_VERSION,
        "lang": export.lang,
        "start": export.start.isoformat(),
        "end": (export.end - timedelta(days=1)).isoformat(),
        "min_count": export.min_count,
        "suppressed_cells": export.suppressed,
        "tables": {
            table.key: {
                "title": table.title(export.lang),
                "columns": [{"key": c.key, "title": h, "type": c.kind}
                            for c, h in zip(table.columns, table.headers(export.lang))],
                "rows": [[_json_value(v, c.kind) for v, c in zip(row, table.columns)] for row in table.rows],
            }
            for table in export.tables
        },
    }
    with _text_file(path, ".json", "utf-8") as out:
        json.dump(document, out, ensure_ascii=False, indent=1)
    return path


def _sheet_name(title: str) -> str:
    for bad in "[]:*?/\\":
        title = title.replace(bad, " ")
    return title[:31]


def write_xlsx(export: Export, path: Path) -> Path:
    """One sheet per table: real dates and numbers, a frozen bold header row, readable widths."""
    with _workbook(path) as (book, formats):
        for table in export.tables:
            sheet = book.add_worksheet(_sheet_name(table.title(export.lang)))
            headers = table.headers(export.lang)
            _xlsx_widths(sheet, table.columns, headers, table.rows[:500])
            sheet.freeze_panes(1, 0)
            for col, header in enumerate(headers):
                sheet.write_string(0, col, safe_text(header), formats["header"])
            for number, row in enumerate(table.rows, start=1):
                _xlsx_row(sheet, number, row, table.columns, formats)
    return path


def _xlsx_formats(book) -> dict:
    return {
        "header": book.add_format({"bold": True, "bottom": 1}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "share": book.add_format({"num_format": "0.0%"}),
        "number": book.add_format({"num_format": "0.00"}),
        "datetime": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
    }


def _xlsx_widths(sheet, columns: list[Column], headers: list[str], sample: list[list]) -> None:
    for col, (column, header) in enumerate(zip(columns, headers)):
        widest = len(header)
        for row in sample:
            value = row[col]
            widest = max(widest, 10 if column.kind == "date" else len(str(value)) if value is not None else 0)
        sheet.set_column(col, col, min(max(widest + 2, 6), 60))


def _xlsx_row(sheet, number: int, row: list, columns: list[Column], formats: dict) -> None:
    for col, (value, column) in enumerate(zip(row, columns)):
        if value is None:
            continue
        if column.kind == "text":
            sheet.write_string(number, col, safe_text(str(value)))
        elif column.kind == "date":
            sheet.write_datetime(number, col, datetime.combine(_day(value), datetime.min.time()), formats["date"])
        elif column.kind == "datetime":
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
            sheet.write_datetime(number, col, moment.replace(tzinfo=None), formats["datetime"])
        elif column.kind == "share":
            sheet.write_number(number, col, value, formats["share"])
        elif column.kind == "number":
            sheet.write_number(number, col, value, formats["number"])
        else:
            sheet.write_number(number, col, value)


# --- visit-level rows --------------------------------------------------------------------

VISIT_COLUMNS = (
    Column("visit_id"), Column("at_utc", "datetime"), Column("date", "date"), Column("hour", "int"),
    Column("weekday", "int"), Column("site_id"), Column("desk"), Column("channel"),
    Column("outcome_id"), Column("destination_id"), Column("destinations"), Column("handled_here"),
    Column("postcode", "int"), Column("home_site_id"), Column("flow_version"),
    Column("duration_s", "number"), Column("demo"),
)
_TEXT_SOURCES = {"visit_id": "visit_id", "site_id": "site_id", "desk": "desk", "channel": "channel",
                 "outcome_id": "outcome_id", "destination_id": "destination_id",
                 "destinations": "destinations", "home_site_id": "postcode_site_id",
                 "flow_version": "flow_version"}
_PLAIN_SOURCES = {"at_utc": "at_utc", "date": "local_date", "hour": "local_hour", "weekday": "local_weekday",
                  "postcode": "postcode"}


def visits_sql(options: Options, excel_da: bool, mode: str) -> tuple[str, dict]:
    """The visit-level query, the same on SQLite and PostgreSQL. Mode "typed": the stored values
    (JSON, Excel); "text": every value as the text the CSV needs, made formula-safe by the
    database itself. (Building whole CSV lines in SQL was tried: SQLite's string functions
    made it slower than Python's csv module.)"""
    typed = mode == "typed"
    params: dict = {"start": options.start, "end": options.end,
                    "yes": t("exp_yes", options.lang), "no": t("exp_no", options.lang)}
    for i, start in enumerate(FORMULA_STARTS):
        params[f"f{i}"] = start
    starts = ", ".join(f":f{i}" for i in range(len(FORMULA_STARTS)))

    def safe(column: str) -> str:
        if typed:
            return column
        return f"CASE WHEN substr({column}, 1, 1) IN ({starts}) THEN '''' || {column} ELSE {column} END"

    selected = []
    for column in VISIT_COLUMNS:
        if column.key in _TEXT_SOURCES:
            selected.append(safe(_TEXT_SOURCES[column.key]))
        elif column.key in ("handled_here", "demo"):
            selected.append(f"CASE WHEN {column.key} THEN :yes ELSE :no END")
        elif column.key == "duration_s":
            tenths = "ROUND(duration_s * 10) / 10.0"  # tenths of a second: the same text everywhere
            selected.append(f"REPLACE(CAST({tenths} AS TEXT), '.', ',')" if excel_da and not typed else tenths)
        else:
            selected.append(_PLAIN_SOURCES[column.key])
    where = ["local_date >= :start", "local_date < :end", "voided_utc IS NULL"]
    if options.filters.sites is not None:
        names = []
        for i, site in enumerate(options.filters.sites):
            params[f"s{i}"] = site
            names.append(f":s{i}")
        where.append(f"site_id IN ({', '.join(names)})")
    if not options.filters.include_demo:
        where.append("NOT demo")
    # In the order of the (date, site) index: no sort, whatever the period.
    sql = (f"SELECT {', '.join(selected)} FROM visit WHERE {' AND '.join(where)} "
           "ORDER BY local_date, site_id, id")
    return sql, params


def _visit_rows(store: Store, options: Options, excel_da: bool, mode: str,
                batch: int = 5000) -> Iterator[list[tuple]]:
    """Visit rows in batches, streamed from the database (memory stays flat)."""
    sql, params = visits_sql(options, excel_da, mode)
    if store.dialect == "sqlite":
        # The driver's own cursor: its rows are plain tuples, which csv writes at C speed.
        raw = store.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(sql, {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()})
            while part := cursor.fetchmany(batch):
                yield part
        finally:
            raw.close()
        return
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(text(sql), params)
        for part in result.partitions(batch):
            yield part


def count_visits(store: Store, options: Options) -> int:
    sql, params = visits_sql(options, False, "typed")
    counted = f"SELECT COUNT(*) FROM ({sql.rsplit(' ORDER BY', 1)[0]}) AS chosen"  # noqa: S608
    with store.engine.connect() as conn:
        return int(conn.execute(text(counted), params).scalar_one())


def _ticker(progress: Progress | None, total: int) -> Callable[[int], None]:
    def tick(done: int) -> None:
        if progress and total:
            progress(min(done / total, 1.0))
    return tick


def write_visits(store: Store, options: Options, fmt: str, path: Path, excel_da: bool = False,
                 progress: Progress | None = None) -> int:
    """Every visit of the period (never void ones), one row each; returns how many."""
    total = count_visits(store, options) if progress or fmt == "xlsx" else 0
    if fmt == "xlsx" and total >= XLSX_MAX_ROWS:
        raise ExportError("exp_too_many_rows", rows=total, most=XLSX_MAX_ROWS - 1)
    tick = _ticker(progress, total)
    headers = [t(f"exp_col_{c.key}", options.lang) for c in VISIT_COLUMNS]
    written = 0
    if fmt == "csv":
        with _text_file(path, ".csv", "utf-8-sig", newline="") as out:
            writer = csv.writer(out, **csv_dialect(excel_da))
            writer.writerow(headers)
            for part in _visit_rows(store, options, excel_da, "text"):
                writer.writerows(part)
                written += len(part)
                tick(written)
    elif fmt == "json":
        with _text_file(path, ".json", "utf-8") as out:
            out.write('{"format": "triage-visits", "version": %d, "lang": %s, "columns": %s, "rows": [\n'
                      % (EXPORT_VERSION, json.dumps(options.lang),
                         json.dumps([{"key": c.key, "title": h, "type": c.kind}
                                     for c, h in zip(VISIT_COLUMNS, headers)], ensure_ascii=False)))
            for part in _visit_rows(store, options, False, "typed"):
                for row in part:
                    out.write((",\n" if written else "") + json.dumps(
                        [_plain(v) for v in row], ensure_ascii=False))
                    written += 1
                tick(written)
            out.write("\n]}\n")
    else:
        written = _write_visits_xlsx(store, options, path, headers, tick)
    return written


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _write_visits_xlsx(store: Store, options: Options, path: Path, headers: list[str],
                       tick: Callable[[int], None]) -> int:
    written = 0
    with _workbook(path) as (book, formats):
        sheet = book.add_worksheet(_sheet_name(t("exp_table_visits", options.lang)))
        widths = {"visit_id": 34, "at_utc": 20, "flow_version": 16, "destinations": 24}
        for col, (column, header) in enumerate(zip(VISIT_COLUMNS, headers)):
            sheet.set_column(col, col, max(widths.get(column.key, 12), len(header) + 2))
        sheet.freeze_panes(1, 0)
        for col, header in enumerate(headers):
            sheet.write_string(0, col, safe_text(header), formats["header"])
        for part in _visit_rows(store, options, False, "typed"):
            for row in part:
                written += 1
                _xlsx_row(sheet, written, row, VISIT_COLUMNS, formats)
            tick(written)
    return written


class ExportError(Exception):
    """A problem the person exporting must act on; `code` names the i18n message."""

    def __init__(self, code: str, **params) -> None:
        super().__init__(f"{code} {params}")
        self.code = code
        self.params = params


def write(export: Export, fmt: str, out: Path, excel_da: bool = False) -> list[Path]:
    if fmt == "csv":
        return write_csv(export, out, excel_da)
    if fmt == "json":
        return [write_json(export, out)]
    return [write_xlsx(export, out)]

