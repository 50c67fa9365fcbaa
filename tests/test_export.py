"""Exports: every format written and read back with exact numbers, safe cells, small counts."""

from __future__ import annotations

import csv
import errno
import io
import json
import re
import resource
import shutil
import signal
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from tests.test_stats import _month, add
from triage import export, paths
from triage.cli import main
from triage.export import FORMULA_STARTS, Options, build, safe_text, write_visits
from triage.i18n import t
from triage.load import load_or_raise
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
        "shares_over_time",
        "staffing",
        "waits",
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
        "Besøg pr. time på dagen",
        "Besøg pr. dag",
        "Besøg pr. time",
        "Henvisninger pr. sted",
        "Bopæl og besøgt sted",
        "Postnummer og besøgt sted",
        "Andel og mål",
        "Andele pr. måned",
        "Bemanding",
        "Ventetid og betjening",
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
        assert rows[0] == [
            *["Sted-id", "Sted", "Besøg", "Andel", "Mål", "Over/under mål i %"],
            *["Periodens første dag", "Periodens sidste dag", "Demobesøg i tallene"],
        ]
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
    assert sheet["B2"].value == datetime(2026, 11, 2, 9, 0) and sheet["T2"].value == 10
    assert rows[1][1] == "2026-11-02 09:00" and rows[1][15] == "10"  # to the minute, whole seconds
    first = document["rows"][0]
    assert first[1][:16].replace("T", " ") == "2026-11-02 09:00" and first[15] == 10

    # Each format says what the rows hold and how to treat the file, before anyone reads them.
    about_text = (tmp_path / "v_om_udtraekket.csv").read_text(encoding="utf-8-sig")
    about_csv = list(csv.reader(about_text.splitlines()))
    about_xlsx = dict(book.worksheets[0].iter_rows(min_row=2, values_only=True))
    assert book.sheetnames == ["Om udtrækket", "Besøg"]
    assert about_csv == [["Punkt", "Værdi"], *document["about"]]
    about = dict(document["about"])
    assert about.keys() == about_xlsx.keys()  # the same lines, Excel's as numbers and dates
    assert about["Besøg i filen"] == "12" and about_xlsx["Besøg i filen"] == 12
    assert about["Til og med"] == "2026-11-30" and about_xlsx["Til og med"] == datetime(
        2026, 11, 30
    )
    assert (
        about_xlsx["Demobesøg talt med"]
        == "ja: perioden har demobesøg, og de er talt med i alle tal"
    )
    assert about["Demobesøg talt med"] == "ja"  # CSV and JSON cannot say it before the rows
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
        cut = len(export.CSV_PERIOD_COLUMNS)  # the period's columns after the table's own
        from_csv = [
            [*r[: -cut - 1], int(r[-cut - 1])] for r in list(csv.reader(text.splitlines()))[1:]
        ]
        for rows in (from_excel, from_csv):
            flagged = {(r[home_column], r[-2]) for r in rows}
            assert ("frederiksberg", "ja") in flagged and ("sc-bispebjerg", "nej") in flagged
            assert sum(r[-1] for r in rows if r[-2] == "ja") == summary.misdirected


def test_shares_over_time_in_every_format_with_a_chart_in_excel(november, flow, tmp_path):
    from tests.test_stats import _direct_shares

    period = Options(start=date(2026, 9, 15), end=date(2026, 12, 10))  # months, both ends cut
    built = build(november, flow.sites, period)
    expected = _direct_shares(november, flow, period.start, period.end, "month")
    xlsx = export.write(built, "xlsx", tmp_path / "andele.xlsx")[0]
    sheet = openpyxl.load_workbook(xlsx)["Andele pr. måned"]
    header = [c.value for c in sheet[1]]
    assert header == [
        "Sted-id",
        "Sted",
        "Periode",
        "Første dag",
        "Sidste dag",
        "Besøg",
        "Andel",
        "Mål",
        "Forskel i procentpoint",
    ]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert len(rows) == len(expected) == 3 * 4
    for row in rows:
        first, last, visits, share = expected[(row[0], row[2])]
        assert (row[3].date().isoformat(), row[4].date().isoformat()) == (first, last)
        assert row[5] == visits and isinstance(row[5], int)
        if share is None:  # December: no one came to the jobcentres in its days
            assert row[6] is None and row[8] is None
        else:
            assert row[6] == pytest.approx(share) and isinstance(row[6], int | float)
            assert row[8] == pytest.approx(share - row[7])
    assert rows[0][2:5] == ["2026-09", datetime(2026, 9, 15), datetime(2026, 9, 30)]
    assert sheet["G3"].number_format == "0.0%" and sheet["D2"].is_date  # October: 1 of 2
    charts = sheet._charts  # openpyxl reads the charts a workbook holds
    assert len(charts) == 1 and charts[0].tagname == "lineChart"
    series = charts[0].series
    assert len(series) == 2 * 3  # a share and a target line per jobcentre
    assert [s.val.numRef.f for s in series[:2]] == [
        "'Andele pr. måned'!$G$2:$G$5",
        "'Andele pr. måned'!$H$2:$H$5",
    ]
    with zipfile.ZipFile(xlsx) as files:  # the cached values a viewer without recalculation draws
        chart = files.read(_chart_of(files, "Andele pr. måned")).decode()
    first_share = chart.split("<c:val>")[1].split("</c:val>")[0]
    cached = re.findall(r'<c:pt idx="(\d+)"><c:v>([\d.]+)</c:v>', first_share)
    assert [(int(i), float(v)) for i, v in cached] == [
        (i, pytest.approx(row[6])) for i, row in enumerate(rows[:4]) if row[6] is not None
    ]

    document = json.loads(
        export.write(built, "json", tmp_path / "andele.json")[0].read_text(encoding="utf-8")
    )
    jsonschema.validate(document, SCHEMA)
    json_rows = document["tables"]["shares_over_time"]["rows"]
    assert [r[:5] for r in json_rows] == [
        [r[0], r[1], r[2], *expected[(r[0], r[2])][:2]] for r in rows
    ]
    assert [r[5] for r in json_rows] == [r[5] for r in rows]
    files = export.write(built, "csv", tmp_path / "csv")
    path = next(p for p in files if p.name == "andele_pr_maaned.csv")
    lines = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    assert lines[1][:6] == [rows[0][0], rows[0][1], "2026-09", "2026-09-15", "2026-09-30", "0"]


# --- the workbook planners can use at once -------------------------------------------------

NUMBER_TEXT = re.compile(r"[+-]?\d+([.,]\d+)?\s*%?")
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?")


def _direct(store, sql: str, **params) -> list[tuple]:
    """Rows counted on the visit table itself (never void visits)."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params).fetchall()]


def _assert_tables_usable(book) -> None:
    """Every sheet: a frozen header row, an autofilter over the whole table, no number or date
    stored as text."""
    for sheet in book.worksheets:
        last = f"{get_column_letter(sheet.max_column)}{sheet.max_row}"
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref == f"A1:{last}", sheet.title
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    assert not NUMBER_TEXT.fullmatch(cell.value), (sheet.title, cell.coordinate)
                    assert not DATE_TEXT.fullmatch(cell.value), (sheet.title, cell.coordinate)


def test_workbook_cells_are_typed_filtered_and_the_about_sheet_dated(november, flow, tmp_path):
    built = build(november, flow.sites, NOVEMBER)
    path = export.write(built, "xlsx", tmp_path / "ud.xlsx")[0]
    book = openpyxl.load_workbook(path)
    _assert_tables_usable(book)
    for table in built.tables[1:]:  # each column's cells as their kind says
        sheet = book[table.title("da")]
        for row in sheet.iter_rows(min_row=2):
            for cell, column in zip(row, table.columns, strict=True):
                if cell.value is None:
                    continue
                if column.kind == "int":
                    assert type(cell.value) is int, (sheet.title, cell.coordinate)
                elif column.kind in ("number", "share"):
                    assert isinstance(cell.value, (int, float)), (sheet.title, cell.coordinate)
                elif column.kind == "date":
                    assert cell.is_date and cell.number_format == "yyyy-mm-dd"
                    assert isinstance(cell.value, datetime) and cell.value.hour == 0

    about = {row[0].value: row[1] for row in book["Om udtrækket"].iter_rows(min_row=2)}
    (counted,) = _direct(
        november,
        "SELECT COUNT(*) FROM visit WHERE voided_utc IS NULL"
        " AND local_date >= :start AND local_date < :end",
        start=NOVEMBER.start,
        end=NOVEMBER.end,
    )
    assert about["Besøg i alt"].value == counted[0] == 12 and about["Besøg i alt"].data_type == "n"
    assert about["Fra og med"].value == datetime(2026, 11, 1) and about["Fra og med"].is_date
    assert about["Til og med"].value == datetime(2026, 11, 30) and about["Til og med"].is_date
    made = about["Lavet (dansk tid)"]
    now = datetime.now(ZoneInfo("Europe/Copenhagen")).replace(tzinfo=None)
    assert made.is_date and made.number_format == "yyyy-mm-dd hh:mm"
    assert abs((now - made.value).total_seconds()) < 120  # Copenhagen's clock, not UTC
    assert about["Demobesøg talt med"].value.startswith("ja: perioden har demobesøg")
    without = Options(start=NOVEMBER.start, end=NOVEMBER.end, filters=Filters(include_demo=False))
    about_csv = dict(csv.reader(_about_csv(november, flow, without, tmp_path).splitlines()))
    assert about_csv["Demobesøg talt med"] == "nej: demobesøg er udeladt af alle tal"
    assert about_csv["Besøg i alt"] == "11" and about_csv["Fra og med"] == "2026-11-01"
    nord = Options(start=NOVEMBER.start, end=NOVEMBER.end, filters=Filters(sites=("jc-nord",)))
    about_csv = dict(csv.reader(_about_csv(november, flow, nord, tmp_path).splitlines()))
    assert about_csv["Steder"] == "jc-nord (Jobcenter København Nord)"


def test_the_two_measures_against_target_are_named_apart_and_defined(november, flow, tmp_path):
    """share ÷ target − 1 and share − target: column names that cannot be taken for each
    other, each defined in "Om udtrækket" under the same name, and the figures as defined."""
    built = build(november, flow.sites, NOVEMBER)
    files = {p.name: p for p in export.write(built, "csv", tmp_path / "csv")}
    about = dict(csv.reader(files["om_udtraekket.csv"].read_text("utf-8-sig").splitlines()))
    shares = list(csv.DictReader(files["andel_og_maal.csv"].read_text("utf-8-sig").splitlines()))
    monthly = files["andele_pr_maaned.csv"].read_text("utf-8-sig").splitlines()
    per_month = list(csv.DictReader(monthly))
    assert "andel ÷ mål − 1" in about["Over/under mål i %"]
    assert "andel − mål" in about["Forskel i procentpoint"]
    for row in shares:
        share, target = float(row["Andel"]), float(row["Mål"])
        assert float(row["Over/under mål i %"]) == pytest.approx(share / target - 1, abs=1e-4)
    for row in per_month:
        if row["Andel"]:
            share, target = float(row["Andel"]), float(row["Mål"])
            assert float(row["Forskel i procentpoint"]) == pytest.approx(share - target, abs=1e-4)


@pytest.mark.parametrize(("include_demo", "lang"), [(True, "da"), (False, "en")])
def test_every_csv_file_says_its_period_and_whether_demo_visits_are_in_it(
    november, flow, tmp_path, include_demo, lang
):
    """A table's CSV file that travels alone (mailed, opened by itself) still says which days
    it counts, the last one included, and whether demo visits are in its figures; the about
    file says the same in its rows."""
    at = datetime(2026, 11, 9, 9, tzinfo=UTC)
    add(november, flow, ("4", "1050", "1"), "jc-nord", at, demo=True)
    options = Options(
        start=date(2026, 11, 2),
        end=date(2026, 11, 10),  # the day after the last
        lang=lang,
        filters=Filters(include_demo=include_demo),
    )
    files = export.write(build(november, flow.sites, options), "csv", tmp_path / "csv")
    about = dict(csv.reader(files[0].read_text(encoding="utf-8-sig").splitlines()))
    assert about[t("exp_about_first_day", lang)] == "2026-11-02"
    assert about[t("exp_about_last_day", lang)] == "2026-11-09"
    demo_visits = _direct(
        november,
        "SELECT COUNT(*) FROM visit WHERE demo AND voided_utc IS NULL"
        " AND local_date BETWEEN :a AND :b",
        a=date(2026, 11, 2),
        b=date(2026, 11, 9),
    )[0][0]
    demo_in = include_demo and demo_visits > 0
    said = ["2026-11-02", "2026-11-09", t("exp_yes" if demo_in else "exp_no", lang)]
    headers = [t(f"exp_col_{key}", lang) for key in export.CSV_PERIOD_COLUMNS]
    assert len(files) == 10  # the about file and nine tables
    for path in files[1:]:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
        assert rows[0][-3:] == headers, path.name
        assert all(row[-3:] == said for row in rows[1:]), path.name
        assert len({len(row) for row in rows}) == 1, path.name  # one rectangular table
    assert any(len(rows) > 1 for rows in [p.read_text().splitlines() for p in files[1:]])


def _about_csv(store, flow, options, tmp_path) -> str:
    built = build(store, flow.sites, options)
    files = export.write(built, "csv", tmp_path / "csv-about")
    return files[0].read_text(encoding="utf-8-sig")


def test_visits_by_hour_sheet_agrees_with_the_visit_table_and_has_a_chart(november, flow, tmp_path):
    path = export.write(build(november, flow.sites, NOVEMBER), "xlsx", tmp_path / "ud.xlsx")[0]
    sheet = openpyxl.load_workbook(path)["Besøg pr. time på dagen"]
    rows = list(sheet.iter_rows(values_only=True))
    ids = {flow.sites.name_of(s.id, "da"): s.id for s in flow.sites}
    sites = [ids[name] for name in rows[0][1:]]
    shown = {(site, r[0]): n for r in rows[1:] for site, n in zip(sites, r[1:], strict=True)}
    direct = _direct(
        november,
        "SELECT site_id, local_hour, COUNT(*) FROM visit WHERE voided_utc IS NULL"
        " AND local_date >= :start AND local_date < :end GROUP BY site_id, local_hour",
        start=NOVEMBER.start,
        end=NOVEMBER.end,
    )
    counted = {(site, hour): n for site, hour, n in direct}
    assert sorted(sites) == sorted({site for site, _ in counted})
    hours = [r[0] for r in rows[1:]]
    assert hours == list(range(min(h for _, h in counted), max(h for _, h in counted) + 1))
    assert shown == {key: counted.get(key, 0) for key in shown} and sum(shown.values()) == 12

    assert len(sheet._charts) == 1  # openpyxl reads the chart back ...
    with zipfile.ZipFile(path) as files:  # ... and in the file: a column chart, one series a site
        chart = files.read(_chart_of(files, "Besøg pr. time på dagen")).decode()
    assert "<c:barChart>" in chart and '<c:barDir val="col"/>' in chart
    assert chart.count("<c:ser>") == len(sites)
    assert f"<c:f>'Besøg pr. time på dagen'!$B$2:$B${len(rows)}</c:f>" in chart
    assert "Besøg pr. time på dagen, 2026-11-01 til og med 2026-11-30" in chart
    cached = re.findall(
        r'<c:pt idx="(\d+)"><c:v>(\d+)</c:v>', chart.split("<c:val>")[1].split("</c:val>")[0]
    )
    first = [(int(i), int(v)) for i, v in cached]  # what a viewer that does not recalculate draws
    assert first == [(i, r[1]) for i, r in enumerate(rows[1:])]

    # With --min-count, an hour is shown only when each of its days' counts is shown.
    small = build(november, flow.sites, Options(NOVEMBER.start, NOVEMBER.end, min_count=2))
    sheet = openpyxl.load_workbook(export.write(small, "xlsx", tmp_path / "small.xlsx")[0])[
        "Besøg pr. time på dagen"
    ]
    cells = [v for r in sheet.iter_rows(min_row=2, values_only=True) for v in r[1:]]
    assert set(cells) == {None, 0}  # every hour here holds single visits: hidden, or none there


def _chart_of(files: zipfile.ZipFile, title: str) -> str:
    """The chart drawn on the sheet called `title`: workbook → sheet → drawing → chart."""

    def target(rels: str, kind: str) -> str:
        found = re.search(rf'Type="[^"]*/{kind}" Target="\.\./([^"]+)"', files.read(rels).decode())
        assert found, (rels, kind)
        return "xl/" + found.group(1)

    workbook = files.read("xl/workbook.xml").decode()
    found = re.search(rf'<sheet name="{title}" sheetId="\d+" r:id="rId(\d+)"', workbook)
    assert found, title
    sheet = f"xl/worksheets/sheet{found.group(1)}.xml"  # XlsxWriter numbers them alike
    drawing = target(sheet.replace("worksheets/", "worksheets/_rels/") + ".rels", "drawing")
    return target(drawing.replace("drawings/", "drawings/_rels/") + ".rels", "chart")


def test_staffing_sheet_flags_hours_short_of_counters(store, flow, tmp_path):
    """Monday 9 November at Nord, which has one counter (sites.toml's capacity, 6 minutes a
    citizen), 80 % to wait under 10 minutes. Worked by hand (Erlang C, load a = λ·6/60):
    10 o'clock, 10 citizens: a = 1; 1 counter never empties the queue; 2 counters: B = 0.2,
    C = 2·0.2/(2 − 0.8) = 1/3, 1 − e^(−10/6)/3 = 0.94 → 2 needed, 1 short.
    11 o'clock, 1 citizen: a = 0.1; 1 counter: C = 0.1, 1 − 0.1·e^(−1.5) = 0.98 → enough.
    12 o'clock, 20 citizens: a = 2; 3 counters: B = 0.2105, C = 0.4444, 1 − 0.4444·e^(−10/6)
    = 0.92 → 3 needed, 2 short."""
    data = tmp_path / "data"
    shutil.copytree(paths.default_data_dir(), data)
    toml = (data / "sites.toml").read_text(encoding="utf-8")
    nord = toml.index("[site.jc-nord]")
    fewer = toml[nord:].replace("capacity = 6", "capacity = 1", 1)
    (data / "sites.toml").write_text(toml[:nord] + fewer, encoding="utf-8")
    sites = load_or_raise(data).sites
    assert sites["jc-nord"].capacity == 1 and sites["jc-nord"].service_minutes == 6
    for utc_hour, many in ((9, 10), (10, 1), (11, 20)):  # CET: the local hour is one later
        for minute in range(many):
            at = datetime(2026, 11, 9, utc_hour, minute, tzinfo=UTC)
            add(store, flow, ("4", "2100", "1"), "jc-nord", at)

    built = build(store, sites, NOVEMBER)
    path = export.write(built, "xlsx", tmp_path / "ud.xlsx")[0]
    sheet = openpyxl.load_workbook(path)["Bemanding"]
    header = [c.value for c in sheet[1]]
    at = {title: i for i, title in enumerate(header)}
    rows = {r[at["Time (kl.)"]]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    words = {
        hour: (r[at["Skranker nødvendige"]], r[at["Skranker nok?"]]) for hour, r in rows.items()
    }
    assert words == {
        10: (2, "nej, der mangler 1 skranke"),
        11: (1, "ja"),
        12: (3, "nej, der mangler 2 skranker"),
    }
    assert {r[at["Skranker i dag"]] for r in rows.values()} == {1}

    (rule_range,) = [str(r.sqref) for r in sheet.conditional_formatting]
    (rule,) = sheet.conditional_formatting[rule_range]
    needed = get_column_letter(at["Skranker nødvendige"] + 1)
    today = get_column_letter(at["Skranker i dag"] + 1)
    assert rule_range == f"A2:{get_column_letter(len(header))}{len(rows) + 1}"
    assert rule.type == "expression" and rule.formula == [
        f"AND(ISNUMBER(${needed}2),ISNUMBER(${today}2),${needed}2>${today}2)"
    ]
    assert rule.dxf.fill.bgColor.rgb.endswith("FFC7CE")  # the rows it marks: needed > today
    document = json.loads(export.write(built, "json", tmp_path / "ud.json")[0].read_text())
    jsonschema.validate(document, SCHEMA)
    assert [r[-2:] for r in document["tables"]["staffing"]["rows"]] == [
        ["nej, der mangler 1 skranke", "anslået: 6 min"],
        ["ja", "anslået: 6 min"],
        ["nej, der mangler 2 skranker", "anslået: 6 min"],
    ]


def test_visit_rows_in_excel_name_weekdays_channels_sites_and_kinds(november, flow, tmp_path):
    from triage.stats import summarize

    assert write_visits(november, NOVEMBER, "xlsx", tmp_path / "v.xlsx", sites=flow.sites) == 12
    book = openpyxl.load_workbook(tmp_path / "v.xlsx")
    _assert_tables_usable(book)
    sheet = book["Besøg"]
    header = [c.value for c in sheet[1]]
    assert header == [
        "Besøgs-id",
        "Tidspunkt (UTC)",
        "Dato",
        "Time (kl.)",
        "Ugedag",
        "Sted-id",
        "Sted",
        "Skranke",
        "Kanal",
        "Udfald (id)",
        "Henvist til (id)",
        "Henvist til",
        "Type",
        "Alle steder (id)",
        "Klaret her",
        "Postnummer",
        "Bopælens sted (id)",
        "Bopælens sted",
        "Flow-version",
        "Varighed (sek.)",
        "Ventetid (sek.)",
        "Betjening (sek.)",
        "Demo",
    ]
    rows = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2, values_only=True)]
    weekdays = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
    for row in rows:
        assert row["Ugedag"] == weekdays[row["Dato"].weekday()]
        assert row["Sted"] == flow.sites.name_of(row["Sted-id"], "da")
        assert row["Henvist til"] == flow.sites.name_of(row["Henvist til (id)"], "da")
        if row["Bopælens sted (id)"]:
            assert row["Bopælens sted"] == flow.sites.name_of(row["Bopælens sted (id)"], "da")
    phone = _direct(november, "SELECT COUNT(*) FROM visit WHERE channel = 'phone'")[0][0]
    channels = Counter(row["Kanal"] for row in rows)
    assert channels == {"Fremmøde": 12 - phone, "Telefon": phone} and phone == 1
    # The destination's kind in the summary's words: the referred visits by kind agree.
    summary = summarize(november, flow.sites, NOVEMBER.start, NOVEMBER.end)
    referred = Counter(row["Type"] for row in rows if row["Klaret her"] == "nej")
    assert referred == {t(f"kind_{k}", "da"): n for k, n in summary.referred_by_kind.items()}
    kinds = {r[4] for r in table(build(november, flow.sites, NOVEMBER), "destinations").rows}
    assert {row["Type"] for row in rows} == kinds  # one spelling in every sheet

    about = dict(book["Om udtrækket"].iter_rows(min_row=2, values_only=True))
    assert about["Besøg i filen"] == 12 and about["Fra og med"] == datetime(2026, 11, 1)
    assert about["Demobesøg talt med"].startswith("ja: perioden har demobesøg")


def test_cli_writes_the_workbook_with_its_chart(tmp_path):
    """The real command in its own process: the chart sheet, filters and typed about values."""
    db = tmp_path / "cli.db"
    assert (
        main(["demo", "--db", str(db), "--days", "10", "--per-day", "40", "--end", "2026-11-23"])
        == 0
    )
    out = tmp_path / "ud.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "triage", "export", "--db", str(db), "--format", "xlsx"]
        + ["--from", "2026-11-14", "--to", "2026-11-22", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(out)
    _assert_tables_usable(book)
    assert len(book["Besøg pr. time på dagen"]._charts) == 1
    about = dict(book["Om udtrækket"].iter_rows(min_row=2, values_only=True))
    assert about["Fra og med"] == datetime(2026, 11, 14) and about["Til og med"] == datetime(
        2026, 11, 22
    )
    per_day = book["Besøg pr. dag"]
    assert about["Besøg i alt"] == sum(r[4] for r in per_day.iter_rows(min_row=2, values_only=True))
    assert about["Demobesøg talt med"].startswith("ja: perioden har demobesøg")


def test_site_filter_keeps_export_shares_against_all_jobcentres(november, flow):
    """With --site the shares table lists the chosen sites with their share of all jobcentres."""
    rows = [
        r
        for r in november.visits()
        if r["voided_utc"] is None and NOVEMBER.start <= r["local_date"] < NOVEMBER.end
    ]
    everyone = sum(1 for r in rows if r["site_id"].startswith("jc-"))
    nord = sum(1 for r in rows if r["site_id"] == "jc-nord")
    only = Filters(sites=("jc-nord", "jc-skelbaek"))
    options = Options(start=NOVEMBER.start, end=NOVEMBER.end, filters=only)
    shares = table(build(november, flow.sites, options), "shares").rows
    assert [r[0] for r in shares] == ["jc-skelbaek", "jc-nord"]
    assert shares[1][2] == nord and shares[1][3] == pytest.approx(nord / everyone)


def test_shares_go_when_they_would_give_back_a_left_out_small_count(store, flow):
    """Ten visits at Skelbækgade and at Nord in one hour, one at Musvåge: an export of the two
    with --min-count 5 hides nothing else, but visits ÷ share would give Musvåge's 1 back."""
    at = datetime(2026, 12, 7, 9, 10, tzinfo=UTC)
    for site, n in (("jc-skelbaek", 10), ("jc-nord", 10), ("jc-musvaage", 1)):
        for _ in range(n):
            add(store, flow, ("2", "2"), site, at)
    december = (date(2026, 12, 1), date(2027, 1, 1))
    only = Filters(sites=("jc-nord", "jc-skelbaek"))
    shown = table(build(store, flow.sites, Options(*december, filters=only)), "shares").rows
    assert [r[3] for r in shown] == [pytest.approx(10 / 21)] * 2
    built = build(store, flow.sites, Options(*december, filters=only, min_count=5))
    assert [(r[2], r[3], r[5]) for r in table(built, "shares").rows] == [(10, None, None)] * 2
    assert any("Andele og afvigelser er udeladt" in str(r[1]) for r in table(built, "about").rows)
    everyone = build(store, flow.sites, Options(*december, filters=Filters(), min_count=5))
    assert table(everyone, "shares").rows[0][3] is None  # Musvåge's 1 is hidden there too


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
        # Rising to the end; the first may already be the end when the second process is the
        # quicker one (a loaded machine), so only the order and the end are certain.
        assert said and said == sorted(said) and said[-1] == 1.0
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


def _by_the_csv_module(store, options: Options, excel_da: bool = False) -> bytes:
    """The visit-row CSV as the csv module writes the rows of visits_sql, value by value."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, delimiter=";" if excel_da else ",", lineterminator="\r\n")
    writer.writerow([t(f"exp_col_{c.key}", options.lang) for c in export.VISIT_COLUMNS])
    for part in export._visit_rows(store, options, excel_da, "text"):
        writer.writerows(part)
    return text.getvalue().encode("utf-8-sig")


def _visit_with(flow, minute: int, at: datetime | None = None, **values) -> dict:
    at = at or datetime(2026, 11, 3, 9, minute, tzinfo=UTC)
    visit = visit_from_result(route(flow, ["4", "2400", "1"]), "jc-nord", "d", "in_person", 5.0, at)
    visit.update(values)
    return visit


def _ways_used(monkeypatch) -> list[str]:
    """Which way each part of an export was written: "lines" (csv_rows.csv_lines) or "csv"."""
    from triage.db import csv_rows

    used: list[str] = []
    for name, way in (("write_lines", "lines"), ("write_quoted", "csv")):
        real = getattr(csv_rows, name)

        def recorded(*args, real=real, way=way, **kwargs):
            used.append(way)
            return real(*args, **kwargs)

        monkeypatch.setattr(csv_rows, name, recorded)
    return used


@pytest.mark.parametrize("excel_da", [False, True])
def test_visit_rows_csv_is_the_csv_modules_bytes_whatever_the_text(
    november, flow, tmp_path, monkeypatch, excel_da
):
    """The quick CSV lines are byte for byte what the csv module writes: lists of places with
    commas, quotes and formula starts (quoted by the database), and, when another value holds
    the delimiter, a quote or a line break, the csv module's way from the start."""
    store = november
    listed = [
        _visit_with(flow, 1, destinations="jc-nord,ys"),
        _visit_with(flow, 2, destinations='say "ys", then;jc-nord'),
        _visit_with(flow, 3, destinations="=ys,jc-nord"),
        _visit_with(flow, 4, destinations="\rys"),
    ]
    assert store.insert_many(listed) == len(listed)
    out = tmp_path / "visits.csv"
    used = _ways_used(monkeypatch)
    assert write_visits(store, NOVEMBER, "csv", out, excel_da) > len(listed)
    assert out.read_bytes() == _by_the_csv_module(store, NOVEMBER, excel_da)
    assert used == ["lines"]
    text = io.StringIO(out.read_bytes().decode("utf-8-sig"), newline="")
    rows = list(csv.reader(text, delimiter=";" if excel_da else ","))
    assert {"jc-nord,ys", "'=ys,jc-nord", "'\rys"} <= {r[10] for r in rows}

    for minute, values in enumerate(
        [{"desk": "a;b,c"}, {"desk": 'say "hi"'}, {"flow_version": "two\nlines"}], start=10
    ):
        assert store.insert_many([_visit_with(flow, minute, **values)]) == 1
        used.clear()
        write_visits(store, NOVEMBER, "csv", out, excel_da)
        assert out.read_bytes() == _by_the_csv_module(store, NOVEMBER, excel_da), values
        assert used == ["lines", "csv"], values  # started over
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_a_real_number_in_the_visit_csv_is_written_as_python_writes_it(tmp_path, flow, monkeypatch):
    """SQLite keeps a real number in an integer column if it has a fraction (an older program
    could have written one), and prints it otherwise than Python (1e-05): the csv module's
    way then."""
    from triage.db.store import Store

    store = Store(tmp_path / "v.db", spool_dir=tmp_path / "spool")
    store.open()
    assert store.insert_many([_visit_with(flow, 1), _visit_with(flow, 2)]) == 2
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE visit SET wait_s = 0.00001 WHERE id = 2")
    out = tmp_path / "visits.csv"
    used = _ways_used(monkeypatch)
    write_visits(store, NOVEMBER, "csv", out)
    assert ",1e-05," in out.read_text(encoding="utf-8-sig")
    assert out.read_bytes() == _by_the_csv_module(store, NOVEMBER) and used == ["lines", "csv"]
    store.dispose()


def test_a_helper_process_starts_over_the_csv_modules_way_when_a_value_needs_it(
    demo_store, flow, tmp_path, monkeypatch
):
    everything = Options(start=date(2000, 1, 1), end=date(2100, 1, 1))
    with demo_store.engine.connect() as conn:
        last = conn.exec_driver_sql("SELECT MAX(at_utc) FROM visit").scalar()
    at = datetime.fromisoformat(str(last)[:16]).replace(tzinfo=UTC)
    late = _visit_with(flow, 0, at, desk='a "late", desk')
    assert demo_store.insert_many([late]) == 1
    started = _helpers_started(monkeypatch)
    monkeypatch.setattr(export, "TWO_PROCESSES_FROM", 1000)
    out = tmp_path / "two.csv"
    write_visits(demo_store, everything, "csv", out)
    assert [c[-1] for c in started] == ["triage.db.csv_rows"]
    assert b'"a ""late"", desk"' in out.read_bytes()
    assert out.read_bytes() == _by_the_csv_module(demo_store, everything)


# --- servepage16: the export in a served overview is delivered to the browser -----------------


def test_a_served_exports_name_is_a_file_name_a_browser_keeps():
    from screens.export import served_name

    assert served_name("triage-2026-11-01-2026-11-30.xlsx") == "triage-2026-11-01-2026-11-30.xlsx"
    assert served_name("/home/anne/../Østerbro rapport.xlsx") == "Oesterbro-rapport.xlsx"
    assert served_name("  Ærø; på vej ") == "Aeroe-paa-vej"
    assert served_name("../..") == "" and served_name("") == ""


def test_a_served_csv_export_goes_as_one_zip_of_its_files(tmp_path):
    """The CSV export is a folder of files; a browser downloads one file: a zip of them."""
    from screens.export import zipped

    folder = tmp_path / "triage-csv"
    folder.mkdir()
    for name, text in (("sites.csv", "site;visits\njc-nord;3\n"), ("about.csv", "a;b\n")):
        (folder / name).write_text(text, encoding="utf-8-sig")
    (folder / "notes.txt").write_text("not part of the export", encoding="utf-8")
    with zipfile.ZipFile(zipped(folder, "triage-csv")) as archive:
        assert archive.namelist() == ["triage-csv/about.csv", "triage-csv/sites.csv"]
        assert archive.read("triage-csv/sites.csv") == (folder / "sites.csv").read_bytes()
