"""Exports: every format written and read back with exact numbers, safe cells, small counts."""

from __future__ import annotations

import csv
import errno
import json
import resource
import signal
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import jsonschema
import openpyxl
import pytest

from tests.test_stats import _month, add
from triage import export, paths
from triage.cli import main
from triage.export import FORMULA_STARTS, Options, build, safe_text, write_visits
from triage.stats import Filters
from triage.visits import visit_from_result
from triage.walk import route

UTC = UTC
NOVEMBER = Options(start=date(2026, 11, 1), end=date(2026, 12, 1))
SCHEMA = json.loads((paths.default_data_dir() / "export.schema.json").read_text(encoding="utf-8"))


@pytest.fixture
def november(store, flow):
    """The statistics fixture's month, plus a social-centre postcode and another municipality."""
    _month(store, flow)
    add(store, flow, ("7", "2400", "1"), "jc-nord", datetime(2026, 11, 9, 9, tzinfo=UTC))
    add(store, flow, ("4", "3000", "1"), "jc-nord", datetime(2026, 11, 9, 10, tzinfo=UTC))
    return store


def table(built, key):
    return next(t for t in built.tables if t.key == key)


def test_tables_have_exact_numbers(november, flow):
    built = build(november, flow.sites, NOVEMBER)
    assert [t.key for t in built.tables] == [
        "about",
        "per_day",
        "per_hour",
        "destinations",
        "misdirection",
        "misdirection_postcode",
        "shares",
        "staffing",
    ]
    per_day = {(r[0], r[2]): r[4] for r in table(built, "per_day").rows}
    assert per_day == {
        ("jc-skelbaek", date(2026, 11, 2)): 2,
        ("jc-skelbaek", date(2026, 11, 3)): 2,
        ("jc-skelbaek", date(2026, 11, 4)): 1,
        ("jc-musvaage", date(2026, 11, 4)): 1,
        ("jc-musvaage", date(2026, 11, 5)): 1,
        ("jc-nord", date(2026, 11, 5)): 1,
        ("jc-nord", date(2026, 11, 6)): 2,
        ("jc-nord", date(2026, 11, 9)): 2,
    }
    assert sum(r[4] for r in table(built, "per_hour").rows) == 12  # the void visit never counts
    # 09:00 UTC in November is 10 o'clock in Copenhagen.
    assert ["jc-skelbaek", "Jobcenter Skelbækgade", date(2026, 11, 2), 10, 1] in table(
        built, "per_hour"
    ).rows

    misdirection = {(r[0], r[2]): (r[4], r[5]) for r in table(built, "misdirection").rows}
    assert misdirection == {
        ("jc-skelbaek", "jc-skelbaek"): ("nej", 1),
        ("jc-musvaage", "jc-skelbaek"): ("ja", 1),
        ("jc-musvaage", "jc-musvaage"): ("nej", 1),
        ("jc-nord", "jc-skelbaek"): ("ja", 1),
        ("jc-nord", "jc-nord"): ("nej", 1),
        ("sc-bispebjerg", "jc-nord"): (
            "nej",
            1,
        ),  # a social centre's postcode is not a wrong jobcentre
        ("anden-kommune", "jc-nord"): ("ja", 1),  # another municipality's citizen is
    }
    by_postcode = {(r[0], r[1], r[2]): r[5] for r in table(built, "misdirection_postcode").rows}
    assert by_postcode == {
        (1050, "jc-skelbaek", "jc-skelbaek"): 1,
        (2400, "jc-musvaage", "jc-skelbaek"): 1,
        (2100, "jc-nord", "jc-skelbaek"): 1,
        (2400, "jc-musvaage", "jc-musvaage"): 1,
        (2100, "jc-nord", "jc-nord"): 1,
        (2400, "sc-bispebjerg", "jc-nord"): 1,
        (3000, "anden-kommune", "jc-nord"): 1,
    }
    shares = {r[0]: (r[2], round(r[3], 4), r[4]) for r in table(built, "shares").rows}
    assert shares == {
        "jc-skelbaek": (5, 0.4167, 0.4),
        "jc-musvaage": (2, 0.1667, 0.3),
        "jc-nord": (5, 0.4167, 0.3),
    }
    destinations = {(r[0], r[2]): r[5] for r in table(built, "destinations").rows}
    assert destinations[("jc-skelbaek", "jc-sdp")] == 1 and destinations[("jc-skelbaek", "ys")] == 1
    assert sum(destinations.values()) == 12


def test_staffing_uses_in_person_arrivals_and_erlang_c(november, flow):
    built = build(november, flow.sites, NOVEMBER)
    rows = {(r[0], r[2], r[3]): r for r in table(built, "staffing").rows}
    # The phone call on 4 November at Skelbækgade takes no counter: Wednesday has no row there.
    assert ("jc-skelbaek", "onsdag", 10) not in rows
    monday = rows[("jc-skelbaek", "mandag", 10)]
    # One Monday with visits, one visit at 10: one citizen an hour, 6 minutes each → 1 counter.
    assert monday[4:9] == [1, 1, 1.0, 6.0, 1] and monday[10] == 8
    assert monday[9] == pytest.approx(1 - 0.1 * 2.718281828 ** (-0.9 * 10 / 6), abs=1e-6)


def test_each_format_read_back(november, flow, tmp_path):
    built = build(november, flow.sites, NOVEMBER)
    (tmp_path / "ud").mkdir()  # the folder must exist: the export makes none
    xlsx = export.write(built, "xlsx", tmp_path / "ud" / "footfall.xlsx")[0]
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == [
        "Om udtrækket",
        "Besøg pr. dag",
        "Besøg pr. time",
        "Henvisninger pr. sted",
        "Bopæl og besøgt sted",
        "Postnummer og besøgt sted",
        "Andel og mål",
        "Bemanding",
    ]
    days = book["Besøg pr. dag"]
    assert days.freeze_panes == "A2" and days["A1"].font.bold
    assert [c.value for c in days[1]] == ["Sted-id", "Sted", "Dato", "Ugedag", "Besøg"]
    assert [c.value for c in days[2]] == [
        "jc-skelbaek",
        "Jobcenter Skelbækgade",
        datetime(2026, 11, 2),
        "mandag",
        2,
    ]
    assert days["C2"].is_date and days["E2"].data_type == "n"
    assert days.column_dimensions["B"].width >= len("Jobcenter Skelbækgade")
    shares = book["Andel og mål"]
    assert shares["D2"].value == pytest.approx(5 / 12) and shares["D2"].number_format == "0.0%"

    plain = export.write(built, "csv", tmp_path / "csv")
    danish = export.write(built, "csv", tmp_path / "csv-da", excel_da=True)
    assert [p.name for p in plain][:2] == ["om_udtraekket.csv", "besoeg_pr_dag.csv"]
    for path, delimiter, decimal in ((plain[6], ",", "."), (danish[6], ";", ",")):
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM that makes Excel read UTF-8
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines(), delimiter=delimiter))
        assert rows[0] == ["Sted-id", "Sted", "Besøg", "Andel", "Mål", "Afvigelse fra mål"]
        assert rows[1][:5] == [
            "jc-skelbaek",
            "Jobcenter Skelbækgade",
            "5",
            f"0{decimal}4167",
            f"0{decimal}4000",
        ]

    document = json.loads(
        export.write(built, "json", tmp_path / "footfall.json")[0].read_text(encoding="utf-8")
    )
    jsonschema.validate(document, SCHEMA)
    per_day = document["tables"]["per_day"]
    assert per_day["columns"][2] == {"key": "date", "title": "Dato", "type": "date"}
    assert per_day["rows"][0] == ["jc-skelbaek", "Jobcenter Skelbækgade", "2026-11-02", "mandag", 2]
    assert document["start"] == "2026-11-01" and document["end"] == "2026-11-30"


def test_english_headers(november, flow, tmp_path):
    built = build(november, flow.sites, Options(start=NOVEMBER.start, end=NOVEMBER.end, lang="en"))
    book = openpyxl.load_workbook(export.write(built, "xlsx", tmp_path / "en.xlsx")[0])
    assert [c.value for c in book["Visits per day"][1]] == [
        "Site id",
        "Site",
        "Date",
        "Weekday",
        "Visits",
    ]
    assert book["Visits per day"]["D2"].value == "Monday"


def test_small_counts_are_left_out_and_said(november, flow, tmp_path):
    options = Options(start=NOVEMBER.start, end=NOVEMBER.end, min_count=2)
    built = build(november, flow.sites, options)
    # Every hour here holds one visit. A day of 2 over two hours would say both are 1 (a hidden
    # count is at least 1), so the days go too, then the sites, the total and the shares.
    assert {r[4] for r in table(built, "per_hour").rows} == {None}
    assert {r[4] for r in table(built, "per_day").rows} == {None}
    assert all(
        r[5] is None for r in table(built, "misdirection").rows
    )  # every pair is a single visit
    for row in table(built, "shares").rows:  # visits, share and off target gone; the target stays
        assert row[2] is None and row[3] is None and row[5] is None and row[4]
    about = dict(table(built, "about").rows)
    assert (
        "Tal under 2 er udeladt" in about["Små tal"]
        and f"{built.suppressed} celler" in about["Små tal"]
    )
    assert "Andele og afvigelser er udeladt" in about["Små tal"]
    assert about["Besøg i alt"].startswith("Udeladt")
    document = json.loads(
        export.write(built, "json", tmp_path / "small.json")[0].read_text(encoding="utf-8")
    )
    jsonschema.validate(document, SCHEMA)
    assert document["min_count"] == 2 and document["suppressed_cells"] == built.suppressed > 0
    book = openpyxl.load_workbook(export.write(built, "xlsx", tmp_path / "small.xlsx")[0])
    assert book["Besøg pr. dag"]["E4"].value is None  # left empty, not 0
    assert book["Besøg pr. dag"]["C4"].value == datetime(2026, 11, 4)


HOSTILE = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tTAB", "\rCR", '=HYPERLINK("http://x")']


def _hostile_visits(store, flow):
    """Visits whose every text column starts like a formula (as a broken data file could)."""
    for i, bad in enumerate(HOSTILE):
        visit = visit_from_result(
            route(flow, ["4", "2400", "1"]),
            "jc-skelbaek",
            "d",
            "in_person",
            5.0,
            datetime(2026, 11, 2, 9, i, tzinfo=UTC),
        )
        visit.update(
            visit_id=f"{bad}{i}",
            site_id=f"{bad}site",
            desk=f"{bad}desk",
            channel=f"{bad}c"[:16],
            outcome_id=f"{bad}out",
            destination_id=f"{bad}dest",
            destinations=f"{bad}all",
            postcode_site_id=f"{bad}home",
            flow_version=f"{bad}v",
            path=f"{bad}path",
        )
        assert store.insert_many([visit]) == 1  # as an older version or another program could


def _assert_safe(value) -> None:
    """Text that a spreadsheet could evaluate never starts a cell; a plain number (-0.25) may."""
    if isinstance(value, str):
        try:
            float(value.replace(",", "."))
            return
        except ValueError:
            assert not value.startswith(FORMULA_STARTS), repr(value)


def test_formula_like_text_never_becomes_a_formula(store, flow, tmp_path):
    _hostile_visits(store, flow)
    assert safe_text("=1+1") == "'=1+1" and safe_text("plain") == "plain" and safe_text("") == ""
    built = build(store, flow.sites, NOVEMBER)
    texts = [
        v
        for t in built.tables
        for row in t.rows
        for v, c in zip(row, t.columns, strict=True)
        if c.kind == "text"
    ]
    assert any(str(v).startswith("=") for v in texts)  # the hostile values are really there

    for path in export.write(built, "csv", tmp_path / "csv") + [tmp_path / "visits.csv"]:
        if path.name == "visits.csv":
            assert write_visits(store, NOVEMBER, "csv", path) == len(HOSTILE)
        for row in csv.reader(path.read_text(encoding="utf-8-sig").splitlines()):
            for cell in row:
                _assert_safe(cell)
    visit_rows = list(
        csv.reader((tmp_path / "visits.csv").read_text(encoding="utf-8-sig").splitlines())
    )
    first = next(r for r in visit_rows if r[0] == "'=1+10")
    assert first[5] == "'=1+1site" and first[6] == "'=1+1desk"

    for path in (export.write(built, "xlsx", tmp_path / "t.xlsx")[0], tmp_path / "v.xlsx"):
        if path.name == "v.xlsx":
            write_visits(store, NOVEMBER, "xlsx", path)
        for sheet in openpyxl.load_workbook(path).worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                    _assert_safe(cell.value)


def test_visit_rows_in_every_format(november, flow, tmp_path):
    for fmt in ("csv", "json", "xlsx"):
        assert write_visits(november, NOVEMBER, fmt, tmp_path / f"v.{fmt}") == 12
    rows = list(csv.reader((tmp_path / "v.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:3] == ["Besøgs-id", "Tidspunkt (UTC)", "Dato"] and len(rows) == 13
    assert {r[5] for r in rows[1:]} == {"jc-skelbaek", "jc-musvaage", "jc-nord"}
    document = json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, SCHEMA)
    assert len(document["rows"]) == 12 and document["rows"][0][2] == "2026-11-02"
    book = openpyxl.load_workbook(tmp_path / "v.xlsx")
    sheet = book["Besøg"]
    assert sheet.max_row == 13 and sheet["C2"].is_date and sheet["D2"].value == 10
    assert sheet["B2"].value == datetime(2026, 11, 2, 9, 0) and sheet["P2"].value == 10
    assert rows[1][1] == "2026-11-02 09:00" and rows[1][15] == "10"  # to the minute, whole seconds
    first = document["rows"][0]
    assert first[1][:16].replace("T", " ") == "2026-11-02 09:00" and first[15] == 10

    # Each format says what the rows hold and how to treat the file, before anyone reads them.
    about_text = (tmp_path / "v_om_udtraekket.csv").read_text(encoding="utf-8-sig")
    about_csv = list(csv.reader(about_text.splitlines()))
    about_xlsx = [[c.value for c in row] for row in book.worksheets[0].iter_rows()]
    assert book.sheetnames == ["Om udtrækket", "Besøg"]
    assert about_csv == about_xlsx == [["Punkt", "Værdi"], *document["about"]]
    about = dict(document["about"])
    assert about["Besøg i filen"] == "12"
    for said in ("til minuttet", "skranke-id", "postnummer", "hele sekunder", "flow-version"):
        assert said in about["Indhold"]
    assert "sjældent ærinde sammen med postnummer og tidspunkt" in about["Risiko"]
    assert "må ikke offentliggøres" in about["Sådan bruges filen"]
    assert "kan ikke udtrækkes med --min-count" in about["Sådan bruges filen"]
    only_nord = Options(start=NOVEMBER.start, end=NOVEMBER.end, filters=Filters(sites=("jc-nord",)))
    assert write_visits(november, only_nord, "csv", tmp_path / "nord.csv") == 5


def test_too_many_rows_for_excel_is_refused_before_writing(november, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 5)
    with pytest.raises(export.ExportError) as raised:
        write_visits(november, NOVEMBER, "xlsx", tmp_path / "big.xlsx")
    assert raised.value.code == "exp_too_many_rows" and not (tmp_path / "big.xlsx").exists()


def test_cli_export_and_its_refusals(tmp_path, flow, capsys):
    db = tmp_path / "cli.db"
    assert (
        main(["demo", "--db", str(db), "--days", "10", "--per-day", "40", "--end", "2026-11-23"])
        == 0
    )
    capsys.readouterr()
    out = tmp_path / "ud.xlsx"
    assert (
        main(
            [
                "export",
                "--db",
                str(db),
                "--from",
                "2026-11-13",
                "--to",
                "2026-11-22",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert (
        "Skrev" in capsys.readouterr().out
        and openpyxl.load_workbook(out)["Besøg pr. dag"].max_row > 1
    )
    assert (
        main(
            [
                "export",
                "--db",
                str(db),
                "--visits",
                "--min-count",
                "5",
                "--out",
                str(tmp_path / "v.csv"),
            ]
        )
        == 1
    )
    assert "--min-count kan ikke bruges sammen med --visits" in capsys.readouterr().err
    assert main(["export", "--db", str(db), "--wait-share", "1.5", "--out", str(out)]) == 1
    assert "--wait-share skal være et tal" in capsys.readouterr().err
    assert main(["export", "--db", str(db), "--site", "jc-nowhere", "--out", str(out)]) == 1


def _limit_file_size():
    signal.signal(
        signal.SIGXFSZ, signal.SIG_IGN
    )  # a too-big write fails (EFBIG) instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))


def test_a_full_disk_leaves_the_old_file_and_says_so(tmp_path):
    db = tmp_path / "full.db"
    assert (
        main(["demo", "--db", str(db), "--days", "30", "--per-day", "400", "--end", "2026-11-23"])
        == 0
    )
    out = tmp_path / "visits.csv"
    assert (
        main(
            [
                "export",
                "--db",
                str(db),
                "--visits",
                "--format",
                "csv",
                "--from",
                "2026-11-22",
                "--to",
                "2026-11-22",
                "--out",
                str(out),
            ]
        )
        == 0
    )  # last week's, a small one
    last_week = out.read_bytes()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "triage",
            "export",
            "--db",
            str(db),
            "--visits",
            "--format",
            "csv",
            "--from",
            "2026-10-20",
            "--to",
            "2026-11-22",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        preexec_fn=_limit_file_size,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 1, done.stderr
    assert "Kunne ikke skrive" in done.stderr and "Intet er ændret" in done.stderr
    assert out.read_bytes() == last_week
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_misdirected_column_agrees_with_the_summary_and_the_visit_table(november, flow, tmp_path):
    from tests.test_stats import _counted_directly
    from triage.stats import summarize

    # Frederiksberg (another municipality) on a job errand at Skelbækgade: misdirected.
    add(november, flow, ("4", "2000", "1"), "jc-skelbaek", datetime(2026, 11, 10, 9, tzinfo=UTC))
    built = build(november, flow.sites, NOVEMBER)
    summary = summarize(november, flow.sites, NOVEMBER.start, NOVEMBER.end)
    direct = _counted_directly(november, flow.sites, NOVEMBER.start, NOVEMBER.end)
    assert (summary.misdirected, summary.with_postcode) == direct == (4, 7)

    xlsx = openpyxl.load_workbook(export.write(built, "xlsx", tmp_path / "ud.xlsx")[0])
    csv_files = {p.name: p for p in export.write(built, "csv", tmp_path / "csv")}
    for sheet, csv_name, home_column in (
        ("Bopæl og besøgt sted", "bopael_og_sted.csv", 0),
        ("Postnummer og besøgt sted", "postnummer_og_sted.csv", 1),
    ):
        from_excel = [[c.value for c in row] for row in xlsx[sheet].iter_rows(min_row=2)]
        text = csv_files[csv_name].read_text(encoding="utf-8-sig")
        from_csv = [[*r[:-1], int(r[-1])] for r in list(csv.reader(text.splitlines()))[1:]]
        for rows in (from_excel, from_csv):
            flagged = {(r[home_column], r[-2]) for r in rows}
            assert ("frederiksberg", "ja") in flagged and ("sc-bispebjerg", "nej") in flagged
            assert sum(r[-1] for r in rows if r[-2] == "ja") == summary.misdirected


# --- visit rows in two processes (large CSV exports on SQLite) ------------------------------


@pytest.fixture
def demo_store(tmp_path):
    """A demo history of some 6,500 visits over 40 days, in a SQLite file."""
    from triage.db.store import Store

    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--days", "40", "--per-day", "300"]) == 0
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    yield store
    store.dispose()


def _helpers_started(monkeypatch, limit_file_size: bool = False) -> list[list[str]]:
    """Record the helper processes an export starts (real ones); optionally each with a file
    size limit, so its writing fails as on a full disk."""
    started: list[list[str]] = []
    real = subprocess.Popen

    def popen(command, **options):
        started.append(command)
        if limit_file_size:
            options["preexec_fn"] = _limit_file_size
        return real(command, **options)

    monkeypatch.setattr(export.subprocess, "Popen", popen)
    return started


@pytest.mark.parametrize("excel_da", [False, True])
def test_a_large_csv_export_writes_its_halves_in_two_processes_with_the_same_bytes(
    demo_store, tmp_path, monkeypatch, excel_da
):
    everything = Options(start=date(2000, 1, 1), end=date(2100, 1, 1))
    only_nord = Options(
        start=everything.start, end=everything.end, filters=Filters(sites=("jc-nord",))
    )
    with demo_store.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT COUNT(*) FROM visit WHERE voided_utc IS NULL").scalar()
    assert rows > 5000
    for options in (everything, only_nord):
        monkeypatch.setattr(export, "TWO_PROCESSES_FROM", 10**12)  # one process
        one = tmp_path / "one.csv"
        written = write_visits(demo_store, options, "csv", one, excel_da)
        started = _helpers_started(monkeypatch)
        monkeypatch.setattr(export, "TWO_PROCESSES_FROM", 1000)
        two, said = tmp_path / "two.csv", []
        assert write_visits(demo_store, options, "csv", two, excel_da, said.append) == written
        assert [c[-1] for c in started] == ["triage.db.csv_rows"]  # the second half's
        assert two.read_bytes() == one.read_bytes()
        about = {p: (p.parent / f"{p.stem}_om_udtraekket.csv").read_text() for p in (one, two)}
        assert about[one] == about[two]
        assert said == sorted(said) and said[0] < 1 and said[-1] == 1.0
        monkeypatch.undo()
    delimiter = ";" if excel_da else ","
    parsed = list(csv.reader(two.read_text(encoding="utf-8-sig").splitlines(), delimiter=delimiter))
    assert len(parsed) - 1 == written and {r[5] for r in parsed[1:]} == {"jc-nord"}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_a_helper_process_that_cannot_write_leaves_the_old_file(demo_store, tmp_path, monkeypatch):
    everything = Options(start=date(2000, 1, 1), end=date(2100, 1, 1))
    out = tmp_path / "visits.csv"
    small = Options(start=date(2000, 1, 1), end=date(2000, 1, 2))
    assert write_visits(demo_store, small, "csv", out) == 0  # an earlier export, one to replace
    earlier = out.read_bytes()
    started = _helpers_started(monkeypatch, limit_file_size=True)
    monkeypatch.setattr(export, "TWO_PROCESSES_FROM", 1000)
    with pytest.raises(OSError) as raised:
        write_visits(demo_store, everything, "csv", out)
    assert len(started) == 1 and raised.value.errno == errno.EFBIG
    assert out.read_bytes() == earlier
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
