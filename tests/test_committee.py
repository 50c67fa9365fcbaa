"""The committee's monthly report (triage report): its figures against counting the visit table
itself on SQLite and PostgreSQL, the HTML self-contained, the command's refusals, and the A4 print
through a real headless Chromium where one is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import edit
from tests.test_cli import installed_triage
from tests.test_stats import _counted_directly, add
from triage import committee
from triage.load import load
from triage.model import LOCAL_ZONE
from triage.staffing import counters_needed

OCTOBER = date(2026, 10, 1)
NOW = datetime(2026, 11, 3, 10, 15, tzinfo=LOCAL_ZONE)
JOB_AT_HOME = ("4", "1050", "1")  # a job errand with a postcode of Skelbækgade's catchment
JOB_FROM_MUSVAAGE = ("4", "2400", "1")  # … of Musvågevej's
JOB_FROM_FREDERIKSBERG = ("4", "2000", "1")  # another municipality
SICK = ("1", "1")  # referred to Jobcenter Sygedagpenge
BENEFITS = ("2", "2")  # referred to Ydelsesservice


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    """A local (Copenhagen) time on `day`, as the UTC moment a desk registers."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_ZONE).astimezone(UTC)


@pytest.fixture
def sites(data_copy):
    """The shipped sites with one counter at Jobcenter Nord, so a busy Monday hour there
    needs more counters than exist, and one at Musvågevej, whose quiet hours need exactly one."""
    for service in (6, 7):
        edit(
            data_copy / "sites.toml",
            f"target_share = 0.30\ncapacity = 6\nservice_minutes = {service}\n",
            f"target_share = 0.30\ncapacity = 1\nservice_minutes = {service}\n",
        )
    loaded = load(data_copy)
    assert loaded.ok
    assert loaded.flow.sites["jc-nord"].capacity == 1
    return loaded.flow.sites


def fill(store, flow) -> None:
    """October 2026 with misdirected citizens, referrals, a phone call, a demo visit and a void;
    September 2026, March 2026 and October 2025 for the comparisons and the share chart."""
    monday, next_monday, tuesday = date(2026, 10, 5), date(2026, 10, 12), date(2026, 10, 6)
    for answers in (JOB_AT_HOME, JOB_AT_HOME, JOB_FROM_MUSVAAGE, SICK, BENEFITS):
        add(store, flow, answers, "jc-skelbaek", utc(monday, 10, 5))
    for answers in (JOB_AT_HOME, JOB_FROM_FREDERIKSBERG):
        add(store, flow, answers, "jc-skelbaek", utc(next_monday, 10, 30))
    for minute in range(7):  # one counter cannot serve seven an hour within ten minutes
        add(store, flow, SICK, "jc-nord", utc(monday, 11, minute * 8))
    add(store, flow, BENEFITS, "jc-nord", utc(monday, 11, 59), channel="phone")
    add(store, flow, JOB_FROM_MUSVAAGE, "jc-musvaage", utc(tuesday, 9, 10))
    add(store, flow, JOB_AT_HOME, "jc-musvaage", utc(tuesday, 13, 10))
    add(store, flow, SICK, "jc-musvaage", utc(tuesday, 14, 0), demo=True)
    voided = add(store, flow, SICK, "jc-skelbaek", utc(tuesday, 9, 0))
    store.void(voided["visit_id"], "d")
    for site in ("jc-skelbaek", "jc-nord", "jc-nord", "jc-musvaage"):
        add(store, flow, SICK, site, utc(date(2026, 9, 14), 10))
    add(store, flow, SICK, "jc-nord", utc(date(2026, 3, 9), 10))
    for site in ("jc-skelbaek", "jc-skelbaek", "jc-skelbaek", "jc-nord"):
        add(store, flow, SICK, site, utc(date(2025, 10, 13), 10))


# --- reading the HTML back ------------------------------------------------------------------


class Page(HTMLParser):
    """Every tag with its attributes, the text of each table cell row by row, the list items,
    and the text inside <svg> elements."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[list[str]]] = []
        self.items: list[str] = []
        self.svg_texts: list[str] = []
        self.paragraphs: list[str] = []
        self.definitions: dict[str, str] = {}  # <dt> → <dd>
        self._term: list[str] | None = None
        self._last_term = ""
        self._cell: list[str] | None = None
        self._item: list[str] | None = None
        self._para: list[str] | None = None
        self._svg = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "li":
            self._item = []
        elif tag == "p":
            self._para = []
        elif tag in ("dt", "dd"):
            self._term = []
        elif tag == "svg":
            self._svg += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "li" and self._item is not None:
            self.items.append("".join(self._item).strip())
            self._item = None
        elif tag == "p" and self._para is not None:
            self.paragraphs.append("".join(self._para).strip())
            self._para = None
        elif tag in ("dt", "dd") and self._term is not None:
            said = "".join(self._term).strip()
            if tag == "dt":
                self._last_term = said
            else:
                self.definitions[self._last_term] = said
            self._term = None
        elif tag == "svg":
            self._svg -= 1

    def handle_data(self, data):
        for collecting in (self._cell, self._item, self._para, self._term):
            if collecting is not None:
                collecting.append(data)
        if self._svg and data.strip():
            self.svg_texts.append(data.strip())

    def _found(self, heading: str) -> list[list[str]]:
        found = [rows for rows in self.tables if heading in rows[0]]
        assert len(found) == 1, f"one table with the column {heading!r}"
        return found[0]

    def table(self, heading: str) -> list[list[str]]:
        """The rows (without the heading row) of the table with a column named `heading`."""
        return self._found(heading)[1:]

    def table_heading(self, heading: str) -> list[str]:
        return self._found(heading)[0]


def number(shown: str) -> int:
    """A count as the Danish report prints it: 1.234."""
    return int(shown.replace(".", ""))


def percent(share: float) -> str:
    return f"{round(share * 100)} %"


# --- counting the visit table itself --------------------------------------------------------


def counted(store, sql: str, **params) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params).all()]


def visits_per_site(store, start: date, end: date) -> dict[str, int]:
    return dict(
        counted(
            store,
            "SELECT site_id, COUNT(*) FROM visit WHERE voided_utc IS NULL"
            " AND local_date >= :start AND local_date < :end GROUP BY site_id",
            start=start,
            end=end,
        )
    )


def jobcentre_shares(store, sites, start: date, end: date) -> dict[str, float] | None:
    jobcentres = [s.id for s in sites if s.kind == "jobcenter" and s.target_share]
    per_site = visits_per_site(store, start, end)
    total = sum(per_site.get(site, 0) for site in jobcentres)
    return {site: per_site.get(site, 0) / total for site in jobcentres} if total else None


def per_weekday_hour(store, start: date, end: date, in_person: bool) -> dict[tuple, float]:
    """(site, weekday, hour) → visits on an average such weekday the site had visits."""
    channel = " AND channel = 'in_person'" if in_person else ""
    where = f"voided_utc IS NULL AND local_date >= :start AND local_date < :end{channel}"
    cells = counted(
        store,
        f"SELECT site_id, local_weekday, local_hour, COUNT(*) FROM visit WHERE {where}"
        " GROUP BY site_id, local_weekday, local_hour",
        start=start,
        end=end,
    )
    days = {
        (site, weekday): n
        for site, weekday, n in counted(
            store,
            f"SELECT site_id, local_weekday, COUNT(DISTINCT local_date) FROM visit WHERE {where}"
            " GROUP BY site_id, local_weekday",
            start=start,
            end=end,
        )
    }
    return {(s, w, h): n / days[(s, w)] for s, w, h, n in cells}


# --- the figures ----------------------------------------------------------------------------


def test_figures_in_the_html_match_counting_the_visit_table(store, flow, sites):
    fill(store, flow)
    built = committee.build(store, sites, OCTOBER, NOW)
    page = Page(committee.render(built, sites))
    november = date(2026, 11, 1)
    name = {sites.name_of(s.id, "da"): s.id for s in sites}

    # Visits, share and target this month, the share the month before and a year before.
    per_site = visits_per_site(store, OCTOBER, november)
    shares = jobcentre_shares(store, sites, OCTOBER, november)
    before = jobcentre_shares(store, sites, date(2026, 9, 1), OCTOBER)
    year_ago = jobcentre_shares(store, sites, date(2025, 10, 1), date(2025, 11, 1))
    assert shares and before and year_ago
    rows = page.table("Andel")
    assert rows[-1][:3] == ["Jobcentrene i alt", str(sum(per_site[s] for s in shares)), "100 %"]
    shown = {name[row[0]]: row for row in rows[:-1]}
    assert set(shown) == set(shares) == {"jc-skelbaek", "jc-musvaage", "jc-nord"}
    for site, row in shown.items():
        target = sites[site].target_share
        assert number(row[1]) == per_site[site]
        assert row[2:4] == [percent(shares[site]), percent(target)]
        assert row[4] == f"{round((shares[site] / target - 1) * 100):+d} %"
        assert row[5:] == [percent(before[site]), percent(year_ago[site])]
    assert per_site["jc-nord"] == 8 and per_site["jc-musvaage"] == 3  # the demo visit counts

    # Each month's share over the last twelve months, "–" for a month without visits.
    trend = page.table("Måned")
    assert [row[0] for row in trend] == [
        committee.month_name(committee.add_months(OCTOBER, i), "da") for i in range(-11, 1)
    ]
    columns = [name[heading] for heading in page.table_heading("Måned")[1:]]
    for row, i in zip(trend, range(-11, 1), strict=True):
        first = committee.add_months(OCTOBER, i)
        month = jobcentre_shares(store, sites, first, committee.add_months(first, 1))
        expected = ["–"] * 3 if month is None else [percent(month[site]) for site in columns]
        assert row[1:] == expected, row[0]
    assert trend[4][1:] != ["–"] * 3  # March 2026 has a visit

    # Misdirection: the rate's two counts as the visit table gives them.
    misdirected, with_postcode = _counted_directly(store, sites, OCTOBER, november)
    assert (misdirected, with_postcode) == (3, 7)
    said = f"{percent(misdirected / with_postcode)} af borgerne med et postnummer til et "
    said += f"jobcenterærinde kom forkert: {misdirected} af {with_postcode}."
    assert said in page.paragraphs
    flows = page.table("Kom til")
    assert sum(number(row[2]) for row in flows) == misdirected

    # Referred on: every visit whose outcome sends the citizen elsewhere.
    [(referred,)] = counted(
        store,
        "SELECT COUNT(*) FROM visit WHERE voided_utc IS NULL AND NOT handled_here"
        " AND local_date >= :start AND local_date < :end",
        start=OCTOBER,
        end=november,
    )
    total = sum(per_site.values())
    assert any(p.startswith(f"{referred} af {total} besøg") for p in page.paragraphs)

    # The busiest hour: the most visits on an average such weekday, as the visit table says.
    averages = per_weekday_hour(store, OCTOBER, november, in_person=False)
    (site, weekday, hour), average = max(averages.items(), key=lambda item: item[1])
    busiest = page.table("Besøg i gennemsnit")[0]
    weekdays = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
    assert busiest[:3] == [
        sites.name_of(site, "da"),
        f"{weekdays[weekday]} {hour:02d}-{hour + 1:02d}",
        f"{average:.1f}".replace(".", ","),
    ]
    assert (site, weekday, hour, average) == ("jc-nord", 0, 11, 8.0)  # seven in person, a call

    # Staffing: hours where the counters needed for citizens in person exceed the site's.
    short = set()
    for (site, weekday, hour), arrivals in per_weekday_hour(
        store, OCTOBER, november, in_person=True
    ).items():
        need = counters_needed(arrivals, sites[site].service_minutes).counters
        if need > sites[site].capacity:
            short.add(
                (
                    sites.name_of(site, "da"),
                    f"{weekdays[weekday]} {hour:02d}-{hour + 1:02d}",
                    str(need),
                    str(sites[site].capacity),
                )
            )
    assert short == {("Jobcenter København Nord", "mandag 11-12", "2", "1")}  # Musvågevej: 1 of 1
    assert {(r[0], r[1], r[3], r[4]) for r in page.table("Skranker nødvendige")} == short

    # The heat map: all sites, visits on an average such weekday with visits.
    rows_by_weekday_hour = counted(
        store,
        "SELECT local_weekday, local_hour, COUNT(*) FROM visit WHERE voided_utc IS NULL"
        " AND local_date >= :start AND local_date < :end GROUP BY local_weekday, local_hour",
        start=OCTOBER,
        end=november,
    )
    days = dict(
        counted(
            store,
            "SELECT local_weekday, COUNT(DISTINCT local_date) FROM visit WHERE voided_utc IS NULL"
            " AND local_date >= :start AND local_date < :end GROUP BY local_weekday",
            start=OCTOBER,
            end=november,
        )
    )
    assert built.heat == {(w, h): n / days[w] for w, h, n in rows_by_weekday_hour}

    # The period, when it was made (local time, labelled), and the demo visits in it.
    assert page.definitions["Periode"] == "2026-10-01 til og med 2026-10-31"
    assert page.definitions["Lavet"] == "2026-11-03 10:15 (dansk tid)"
    assert page.definitions["Demobesøg"].startswith(f"talt med: 1 af de {total} besøg")


def test_demo_visits_left_out_when_asked(store, flow, sites):
    fill(store, flow)
    built = committee.build(store, sites, OCTOBER, NOW, include_demo=False)
    with_demo = committee.build(store, sites, OCTOBER, NOW)
    assert built.summary.total == with_demo.summary.total - 1
    page = Page(committee.render(built, sites))
    assert page.definitions["Demobesøg"] == "ikke talt med"


def test_the_main_changes_say_what_the_figures_say(store, flow, sites):
    fill(store, flow)
    built = committee.build(store, sites, OCTOBER, NOW)
    said = committee.changes(built, sites, "da")
    # 18 visits against 4 in September and 4 in October 2025.
    assert said[0] == (
        "I oktober 2026 var der 18 besøg i alt – en stigning på 350 % fra september 2026 (4)"
        " og en stigning på 350 % fra oktober 2025 (4)."
    )
    # Nord 8 of 18 (September: 2 of 4), Musvågevej 3 of 18 (1 of 4); Skelbækgade 7 of 18 is
    # within two points of its 40 % and not said.
    assert said[1:3] == [
        "Jobcenter København Nord fik 44 % af besøgene på jobcentrene mod et mål på 30 %."
        " I september 2026 var det 50 %.",
        "Jobcenter København Musvågevej fik 17 % af besøgene på jobcentrene mod et mål på 30 %."
        " I september 2026 var det 25 %.",
    ]
    assert not any(line.startswith("Jobcenter Skelbækgade") for line in said)
    assert any(line.startswith("I 1 time om ugen var der brug for flere skranker") for line in said)
    english = committee.changes(built, sites, "en")
    assert english[0].startswith(
        "In October 2026 there were 18 visits in all – an increase of 350 % on September 2026"
    )


def test_a_month_without_visits_says_so(store, flow, sites):
    fill(store, flow)
    built = committee.build(store, sites, date(2026, 8, 1), NOW)
    page = Page(committee.render(built, sites))
    assert page.items == ["Der er ingen besøg registreret i august 2026."]
    assert [rows[0][0] for rows in page.tables] == ["Måned"]  # only the months before it


# --- the file: self-contained, no script, nothing fetched -----------------------------------


def test_the_html_is_self_contained_with_inline_charts(store, flow, sites):
    fill(store, flow)
    html = committee.render(committee.build(store, sites, OCTOBER, NOW), sites)
    page = Page(html)
    tags = [tag for tag, _ in page.tags]
    assert tags.count("svg") >= 4  # shares against target, shares by month, heat map, referrals
    assert page.tags[0] == ("html", {"lang": "da"})
    for forbidden in ("script", "link", "img", "iframe", "object", "embed", "base", "use"):
        assert forbidden not in tags, forbidden
    for tag, attributes in page.tags:
        assert not set(attributes) & {"src", "href", "xlink:href", "srcset", "action"}, tag
        assert not any(name.startswith("on") for name in attributes), tag  # no event scripts
    lowered = html.lower()
    for fetch in ("http://", "https://", "//", "@import", "url(", "@font-face", "javascript:"):
        assert fetch not in lowered.replace("</", "<"), fetch
    assert "@page { size: A4;" in html
    assert "mandag" in page.svg_texts and "Jobcenter Skelbækgade" in page.svg_texts


# --- the command ----------------------------------------------------------------------------


def run(*args: str, cwd: Path, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [installed_triage(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, **options
    )


@pytest.fixture
def october_db(tmp_path, flow):
    from triage.db.store import Store

    db = tmp_path / "visits.db"
    store = Store(db, spool_dir=tmp_path / "spool")
    store.open()
    fill(store, flow)
    store.dispose()
    return db


def test_report_command_writes_the_file_and_refuses_to_overwrite(october_db, tmp_path, data_copy):
    out = tmp_path / "rapport.html"
    common = ["--db", str(october_db), "--data", str(data_copy), "--out", str(out)]
    done = run("report", "--month", "2026-10", *common, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"Månedsrapporten for oktober 2026 er skrevet til {out}. Åbn den i en browser, og "
        "udskriv den på A4 derfra.\n"
    )
    first = out.read_text(encoding="utf-8")
    assert "<h1>Besøg på jobcentrene – månedsrapport for oktober 2026</h1>" in first

    again = run("report", "--month", "2026-09", *common, cwd=tmp_path)
    assert again.returncode == 1
    assert "findes allerede og overskrives ikke" in again.stderr and "--force" in again.stderr
    assert out.read_text(encoding="utf-8") == first
    forced = run("report", "--month", "2026-09", "--force", "--no-demo", *common, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    replaced = out.read_text(encoding="utf-8")
    assert "september 2026" in replaced and "ikke talt med" in replaced
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_report_defaults_to_last_month(october_db, tmp_path):
    from triage.present import local_now

    last_month = committee.add_months(local_now().date().replace(day=1), -1)
    out = tmp_path / "r.html"
    done = run("report", "--db", str(october_db), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert committee.month_name(last_month, "da") in done.stdout
    assert f"{last_month.isoformat()} til og med" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "month,said",
    [
        (
            "2026-13",
            "Måneden '2026-13' efter --month kan ikke læses. Skriv år og måned som 2026-10.",
        ),
        ("oktober", "Måneden 'oktober' efter --month kan ikke læses."),
        ("2026-10-01", "kan ikke læses"),
        ("0999-01", "ligger uden for de år, triage regner med (1900 til 2999)"),
        ("2999-12", "er ikke begyndt endnu"),
    ],
)
def test_a_month_that_cannot_be_used_is_named(october_db, tmp_path, month, said):
    out = tmp_path / "r.html"
    done = run("report", "--month", month, "--db", str(october_db), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1
    assert said in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_a_place_the_report_cannot_be_written_is_named(october_db, tmp_path):
    common = ["report", "--month", "2026-10", "--db", str(october_db)]
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "folder.html").mkdir()
    for out, said in (
        (tmp_path / "missing" / "r.html", "Mappen"),
        (tmp_path / "a-file" / "r.html", "a-file er en fil, ikke en mappe"),
        (tmp_path / "folder.html", "er en mappe"),
        (Path(" "), "--out er tom"),
    ):
        done = run(*common, "--out", str(out), cwd=tmp_path)
        assert done.returncode == 1, out
        assert said in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "missing").exists()


def _limit_file_size():
    import resource
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (4_000, 4_000))


def test_a_write_that_fails_leaves_the_old_file_and_says_so(pg_url, flow, tmp_path):
    """The database on a server, so the only file this triage writes is the report, and a
    file size limit makes that write fail as a full disk would."""
    from triage.db.store import Store

    store = Store(pg_url, spool_dir=tmp_path / "spool")
    store.open()
    fill(store, flow)
    store.dispose()
    out = tmp_path / "r.html"
    common = ("--db", pg_url, "--out", str(out), "--spool-dir", str(tmp_path / "spool"))
    earlier = run("report", "--month", "2026-09", *common, cwd=tmp_path)
    assert earlier.returncode == 0, earlier.stderr
    last_months = out.read_text(encoding="utf-8")
    done = run(
        *("report", "--month", "2026-10", "--force", *common),
        cwd=tmp_path,
        preexec_fn=_limit_file_size,
    )
    assert done.returncode == 1, done.stderr
    assert f"Kunne ikke skrive {out}: der er ikke plads" in done.stderr
    assert "Traceback" not in done.stderr
    assert out.read_text(encoding="utf-8") == last_months
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_database_that_does_not_answer_or_does_not_exist(tmp_path):
    out = tmp_path / "r.html"
    down = run(
        *("report", "--month", "2026-10", "--out", str(out)),
        *("--db", "postgresql+psycopg://triage@127.0.0.1:9/triage"),  # the discard port
        cwd=tmp_path,
    )
    assert down.returncode == 1
    assert "Databasen" in down.stderr and "kan ikke bruges" in down.stderr
    assert "Traceback" not in down.stderr and not out.exists()
    missing = run(
        "report", "--db", str(tmp_path / "none.db"), "--out", str(out), "--lang", "en", cwd=tmp_path
    )
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert not (tmp_path / "none.db").exists() and not out.exists()


def test_report_without_out_is_a_usage_error(tmp_path):
    assert run("report", "--month", "2026-10", cwd=tmp_path).returncode == 2


# --- printing to A4 -------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.mark.skipif(
    _chromium() is None,
    reason="no Chromium on PATH to print with (apt-get install chromium); CI may install it",
)
def test_the_report_prints_to_five_a4_pages(october_db, tmp_path, data_copy):
    out = tmp_path / "rapport.html"
    made = run(
        *("report", "--month", "2026-10", "--db", str(october_db), "--data", str(data_copy)),
        *("--out", str(out)),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    pdf = tmp_path / "rapport.pdf"
    printed = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"--print-to-pdf={pdf}",
            out.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert pdf.exists(), printed.stderr
    raw = pdf.read_bytes()
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", raw)
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", raw)
    # One page for the figures at a glance, then one each for the share chart, the hours,
    # misdirection and referrals, and staffing: more would mean a section ran over its page.
    assert len(pages) == 5
    assert len(boxes) == 5
    for width, height in boxes:  # A4 is 595 × 842 points
        assert abs(float(width) - 595.3) < 1.5 and abs(float(height) - 841.9) < 1.5


def test_force_replaces_only_an_earlier_report(october_db, tmp_path, store, flow, sites):
    """--force replaces a report triage wrote (also one from before reports named their
    generator), never the planner's own file, whatever its name."""
    common = ["report", "--month", "2026-10", "--force", "--db", str(october_db)]
    own = {
        "mine.txt": "my notes",
        "notes.html": "<!DOCTYPE html>\n<html><body>my own page</body></html>\n",
        "empty.html": "",
    }
    for name, content in own.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
        done = run(*common, "--out", str(tmp_path / name), cwd=tmp_path)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "ikke en tidligere månedsrapport fra triage" in done.stderr and name in done.stderr
        assert (tmp_path / name).read_text(encoding="utf-8") == content
    fill(store, flow)
    older = committee.render(committee.build(store, sites, OCTOBER, NOW), sites)
    older = older.replace(committee.GENERATOR + "\n", "")  # as written before the line existed
    (tmp_path / "older.html").write_text(older, encoding="utf-8")
    for name in ("older.html", "older.html"):  # the second time over the file this wrote
        done = run(*common, "--no-demo", "--out", str(tmp_path / name), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        replaced = (tmp_path / name).read_text(encoding="utf-8")
        assert "ikke talt med" in replaced and committee.GENERATOR in replaced
    written = {p.name for p in tmp_path.iterdir() if not p.name.startswith("visits.db")}
    assert written >= {*own, "older.html"} and not [n for n in written if n.endswith(".part")]


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 10, 31, 16, 5, tzinfo=LOCAL_ZONE),  # the month's last day: not over either
        datetime(2026, 10, 20, 9, 30, tzinfo=LOCAL_ZONE),
    ],
)
def test_a_month_that_is_not_over_says_its_figures_run_to_today(store, flow, sites, now):
    fill(store, flow)
    built = committee.build(store, sites, OCTOBER, now)
    page = Page(committee.render(built, sites))
    today = now.date().isoformat()
    assert page.definitions["Periode"] == (
        "2026-10-01 til og med 2026-10-31 (måneden er ikke slut: tallene går til og med i dag, "
        f"{today} kl. {now:%H:%M})"
    )
    said = committee.changes(built, sites, "da")
    assert said[0] == (
        f"Måneden er ikke slut: tallene går kun til og med i dag, {today}, og sammenligningerne"
        " er med hele måneder."
    )
    assert said[1] == (
        "I oktober 2026 har der indtil nu været 18 besøg i alt – indtil nu en stigning på 350 %"
        " fra september 2026 (4) og en stigning på 350 % fra oktober 2025 (4)."
    )
    assert said[2].startswith("Jobcenter København Nord har indtil nu fået 44 % af besøgene")
    english = committee.changes(built, sites, "en")
    assert english[0].startswith("The month is not over") and "so far" in english[1]
    # Made the day after, the month is over: no note, and the sentences as before.
    over = committee.build(store, sites, OCTOBER, datetime(2026, 11, 1, 0, 5, tzinfo=LOCAL_ZONE))
    assert Page(committee.render(over, sites)).definitions["Periode"] == (
        "2026-10-01 til og med 2026-10-31"
    )
    assert committee.changes(over, sites, "da")[0].startswith("I oktober 2026 var der 18 besøg")
