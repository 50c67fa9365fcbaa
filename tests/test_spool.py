"""The local spool under faults and bad input, on real files, real SQLite and real PostgreSQL.

The promise checked throughout: every visit the desk was told is kept ("saved" or "spooled")
is in the database exactly once after a flush, or set aside in the quarantine file with its
reason and reported by `triage spool status` and `triage spool flush`. Never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from triage.db.store import Store
from triage.desklog import DeskLog
from triage.spool import QUARANTINE, Spool, database_identity, entry_problem
from triage.visits import valid_desk_name, visit_from_result
from triage.walk import route

ROOT = Path(__file__).resolve().parent.parent
NOON_UTC = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
ENV = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}


def make_visit(flow, desk: str = "skranke-1", answers=("2", "1", "2100")) -> dict:
    result = route(flow, list(answers))
    return visit_from_result(result, "jc-skelbaek", desk, "in_person", 42.0, NOON_UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "visits.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def later(request, tmp_path):
    """A database that does not answer yet, so a desk on it spools, and how to bring it up."""
    if request.param == "sqlite":
        folder = tmp_path / "later"
        return str(folder / "visits.db"), folder.mkdir
    postgres = request.getfixturevalue("postgres")
    name = f"later_{uuid.uuid4().hex[:12]}"
    return postgres.url(name), lambda: postgres.create_database(name)


def spool_of(spool_dir: Path, db: str) -> Spool:
    """The spool a desk (or store) on `db` keeps in `spool_dir`."""
    return Spool(spool_dir, database=database_identity(db))


def unreachable(tmp_path) -> str:
    """A database that cannot be opened (its folder does not exist): everything spools."""
    return str(tmp_path / "no" / "such" / "folder" / "x.db")


def triage(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real command line, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-m", "triage", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env=ENV,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done


def stored_ids(db: str, spool_dir: Path) -> list[str]:
    store = Store(db, spool_dir=spool_dir)
    try:
        store.open()
        return [row["visit_id"] for row in store.visits()]
    finally:
        store.dispose()


def sent_count(output: str) -> int:
    return int(output.split("Sendt: ")[1].split(".")[0])


# --- torn tails ------------------------------------------------------------------------------


def test_a_torn_tail_never_swallows_the_next_visit(later, tmp_path, flow):
    """A write cut off mid-line (a crash, a full disk) is set aside, and the visits written
    after it through the desk's own API arrive, each exactly once."""
    spool_dir = tmp_path / "spool"
    db, bring_up = later
    desk = DeskLog(db, "jc-skelbaek", "skranke-1", spool_dir=spool_dir)
    before = [make_visit(flow) for _ in range(3)]
    assert [desk.record(v) for v in before] == ["spooled"] * 3
    size = desk.spool.path.stat().st_size
    os.truncate(desk.spool.path, size - 200)  # the third line loses its end and its newline
    after = [make_visit(flow) for _ in range(2)]
    assert [desk.record(v) for v in after] == ["spooled"] * 2
    undone = desk.undo_last(NOON_UTC + timedelta(minutes=1))  # a void after the repair too
    assert undone[0] == "spooled"

    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    assert "4 besøg og 1 annullering venter" in status.stdout
    assert "1 registrering er lagt til side" in status.stdout  # the torn one, set aside at once
    bring_up()
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 0, flushed.stderr  # everything that waited went in
    assert sent_count(flushed.stdout) == 5 and "Venter stadig: 0." in flushed.stdout

    ids = stored_ids(db, spool_dir)
    expected = [v["visit_id"] for v in before[:2] + after]
    assert sorted(ids) == sorted(expected)  # present, exactly once
    (torn,) = spool_of(spool_dir, db).set_aside()
    assert torn["reason"] == "torn"
    assert torn["line"].startswith('{"visit_id": "' + before[2]["visit_id"])
    assert "never confirmed" in torn["why_en"] and "aldrig bekræftet" in torn["why_da"]
    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    assert "0 besøg og 0 annulleringer venter" in status.stdout
    assert "1 registrering er lagt til side" in status.stdout and QUARANTINE in status.stdout


def test_a_torn_tail_found_by_a_flush_is_set_aside(tmp_path, flow):
    store = Store(tmp_path / "t.db", desk="d1", spool_dir=tmp_path / "spool")
    good = make_visit(flow, desk="d1")
    store.spool.append(good)
    with open(store.spool.path, "a", encoding="utf-8") as handle:
        handle.write('{"visit_id": "torn')
    store.open()
    assert store.replay_spool() == 1
    assert [r["reason"] for r in store.spool.last.set_aside] == ["torn"]
    assert store.spool.path.read_bytes() == b""
    store.dispose()


@pytest.mark.parametrize("before, torn", [("", "abc"), ("good", "x" * 150_000)])
def test_the_tail_is_repaired_however_long(tmp_path, flow, before, torn):
    spool = Spool(tmp_path / "spool", "skranke-1")
    spool.directory.mkdir()
    if before:
        spool.append(make_visit(flow))
    with open(spool.path, "a", encoding="utf-8") as handle:
        handle.write(torn)
    visit = make_visit(flow)
    spool.append(visit)
    assert spool.waiting()[-1] == visit and len(spool.waiting()) == (2 if before else 1)
    (record,) = spool.set_aside()
    assert record["line"] == torn and record["from"] == "skranke-1.jsonl"


# --- bad entries -----------------------------------------------------------------------------


def _bad_lines(flow) -> dict[str, str]:
    """Each kind of entry that can never be stored, as a spool line, with the reason expected."""
    missing = make_visit(flow)
    del missing["outcome_id"]
    null_site = {**make_visit(flow), "site_id": None}
    long_desk = {**make_visit(flow), "desk": "Anna Hansen 010190-1234 " * 3}
    wrong_kind = {**make_visit(flow), "local_hour": "tolv"}
    return {
        "42": "not_an_entry",
        json.dumps(missing): "missing_field",
        json.dumps(null_site): "missing_field",
        json.dumps({"void": "a" * 32, "voided_desk": "skranke-1"}): "missing_field",
        '{"visit_id": "abc", "at_utc": ': "unreadable",
        json.dumps(long_desk): "bad_desk",
        json.dumps(wrong_kind): "bad_field",
        json.dumps(
            {"void": "f" * 32, "voided_desk": "skranke-1", "voided_utc": NOON_UTC.isoformat()}
        ): "void_unknown",
    }


def test_each_bad_entry_is_set_aside_and_the_rest_are_sent(db, tmp_path, flow):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    bad = _bad_lines(flow)
    first = [make_visit(flow) for _ in range(4)]
    later = [make_visit(flow, desk="skranke-9") for _ in range(3)]  # a file that sorts after
    lines = [
        json.dumps(first[0]),
        *list(bad)[:4],
        json.dumps(first[1]),
        *list(bad)[4:],
        json.dumps(first[2]),
        json.dumps(first[3]),
    ]
    (spool_dir / "skranke-1.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    later_lines = "".join(json.dumps(v) + "\n" for v in later)
    (spool_dir / "skranke-9.jsonl").write_text(later_lines, encoding="utf-8")

    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    assert status.returncode == 0
    assert "7 besøg og 1 annullering venter" in status.stdout  # the void of no visit waits too
    assert "7 registreringer i spoolen kan aldrig gemmes" in status.stdout
    assert "feltet 'site_id' mangler" in status.stdout
    assert "feltet 'outcome_id' mangler" in status.stdout
    assert "feltet 'voided_utc' mangler" in status.stdout

    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 1  # not everything that waited is in the database
    assert sent_count(flushed.stdout) == 7 and "Venter stadig: 0." in flushed.stdout
    assert "8 registreringer kunne aldrig gemmes og er lagt til side" in flushed.stdout
    assert "den annullerer et besøg, som ikke findes i databasen" in flushed.stdout
    assert sorted(stored_ids(db, spool_dir)) == sorted(v["visit_id"] for v in first + later)

    records = spool_of(spool_dir, db).set_aside()  # with the database they were sent to
    assert sorted(r["reason"] for r in records) == sorted(bad.values())
    assert all(r["from"] == "skranke-1.jsonl" and r["why_da"] and r["why_en"] for r in records)
    quarantine = spool_of(spool_dir, db).quarantine.read_text(encoding="utf-8")
    assert "010190" not in quarantine and "Anna" not in quarantine  # never copied on
    by_reason = {r["reason"]: r for r in records}
    assert by_reason["unreadable"]["line"] == '{"visit_id": "abc", "at_utc": '
    assert by_reason["bad_field"]["detail"] == "local_hour"
    assert by_reason["bad_field"]["entry"]["local_hour"] == "tolv"  # all there to replay by hand

    again = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert again.returncode == 0 and sent_count(again.stdout) == 0  # nothing is retried forever
    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    assert "8 registreringer er lagt til side" in status.stdout


def test_an_entry_the_database_refuses_is_found_and_set_aside(pg_url, tmp_path, flow):
    """A value that looks right but PostgreSQL refuses (a NUL character in a text): the batch
    fails, so the entries go one at a time; the refused one is set aside, the rest stored."""
    spool_dir = tmp_path / "spool"
    visits = [make_visit(flow) for _ in range(5)]
    visits[2]["path"] = "errand:sick\u0000"
    assert entry_problem(visits[2]) is None
    spool = Spool(spool_dir, "skranke-1", database=database_identity(pg_url))
    for visit in visits:
        spool.append(visit)
    store = Store(pg_url, spool_dir=spool_dir)
    store.open()
    assert store.replay_spool() == 4
    (refused,) = store.spool.last.set_aside
    assert refused["reason"] == "refused" and "NUL" in refused["detail"]
    assert refused["entry"]["visit_id"] == visits[2]["visit_id"]
    assert sorted(r["visit_id"] for r in store.visits()) == sorted(
        v["visit_id"] for i, v in enumerate(visits) if i != 2
    )
    assert store.spool.waiting() == []
    store.dispose()


def test_a_visit_that_could_never_be_stored_is_not_accepted(tmp_path, flow):
    """The desk is told at once (and keeps the card) rather than spooling what never goes in."""
    from triage.db.errors import DbError

    store = Store(unreachable(tmp_path), spool_dir=tmp_path / "spool")
    visit = {**make_visit(flow), "local_hour": 24}
    with pytest.raises(DbError) as caught:
        store.record(visit)
    assert caught.value.code == "not_saved" and "local_hour" in caught.value.params["reason"]
    assert not (tmp_path / "spool").exists()


# --- what the spool cannot read, and what the database cannot take ------------------------


def test_a_folder_named_like_a_spool_file_is_reported_and_the_rest_sent(tmp_path, flow):
    spool_dir = tmp_path / "spool"
    (spool_dir / "a.jsonl").mkdir(parents=True)  # sorts first
    visit = make_visit(flow)
    Spool(spool_dir, "skranke-1").append(visit)
    db = str(tmp_path / "v.db")

    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    assert status.returncode == 1 and "a.jsonl er ikke en spoolfil" in status.stderr
    assert "1 besøg og 0 annulleringer venter" in status.stdout
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 1 and "a.jsonl er ikke en spoolfil" in flushed.stderr
    assert sent_count(flushed.stdout) == 1
    assert stored_ids(db, spool_dir) == [visit["visit_id"]]


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root reads a file whatever its mode; the folder "
    "variant above covers an unreadable spool file there",
)
def test_an_unreadable_spool_file_is_reported(tmp_path, flow):
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir, "skranke-1")
    spool.append(make_visit(flow))
    spool.path.chmod(0)
    try:
        flushed = triage(
            "spool", "flush", "--db", str(tmp_path / "v.db"), "--spool-dir", str(spool_dir)
        )
        assert flushed.returncode == 1 and "kan ikke læses (Permission denied" in flushed.stderr
    finally:
        spool.path.chmod(0o600)


def test_a_read_only_database_says_why_nothing_was_sent(tmp_path, flow):
    path = tmp_path / "ro.db"
    Store(path, spool_dir=tmp_path / "spool").open()
    spool_dir = tmp_path / "spool"
    for _ in range(3):
        Spool(spool_dir, "skranke-1").append(make_visit(flow))
    flushed = triage(
        "spool",
        "flush",
        "--db",
        f"sqlite:///file:{path}?mode=ro&uri=true",
        "--spool-dir",
        str(spool_dir),
    )
    assert flushed.returncode == 1
    assert "readonly database" in flushed.stderr  # the cause, in the driver's words
    assert len(Spool(spool_dir).waiting()) == 3  # all still waiting, nothing set aside
    assert Spool(spool_dir).set_aside() == []


def test_a_flush_cut_off_midway_reports_true_counts(pg_url, tmp_path, flow):
    """PostgreSQL stops taking visits part way (a disk full, injected by a trigger): the first
    file is in, the rest wait, and the flush says how many went and why it stopped."""
    store = Store(pg_url, spool_dir=tmp_path / "spool")
    store.open()
    with store.engine.begin() as conn:
        conn.execute(
            text("""CREATE FUNCTION full_disk() RETURNS trigger AS $$ BEGIN
            IF NEW.desk = 'skranke-2' THEN
                RAISE EXCEPTION 'could not extend file: No space left on device'
                USING ERRCODE = '53100';
            END IF; RETURN NEW; END $$ LANGUAGE plpgsql""")
        )
        conn.execute(
            text(
                "CREATE TRIGGER full_disk BEFORE INSERT ON visit "
                "FOR EACH ROW EXECUTE FUNCTION full_disk()"
            )
        )
    store.dispose()
    spool_dir = tmp_path / "spool"
    for desk, count in (("skranke-1", 4), ("skranke-2", 3), ("skranke-3", 2)):
        for _ in range(count):
            Spool(spool_dir, desk).append(make_visit(flow, desk=desk))
    flushed = triage("spool", "flush", "--db", pg_url, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 1
    assert sent_count(flushed.stdout) == 4 and "Venter stadig: 5." in flushed.stdout
    assert "Afsendelsen stoppede: could not extend file: No space left on device" in flushed.stderr
    assert len(stored_ids(pg_url, spool_dir)) == 4 and Spool(spool_dir).set_aside() == []


# --- two flushes at once -----------------------------------------------------------------------


def test_two_flushes_at_once_send_each_visit_once(db, tmp_path, flow):
    spool_dir = tmp_path / "spool"
    expected = []
    for n in range(4):
        spool = Spool(spool_dir, f"skranke-{n}")
        for _ in range(300):
            visit = make_visit(flow, desk=f"skranke-{n}")
            spool.append(visit)
            expected.append(visit["visit_id"])
        spool.append(
            {
                "void": expected[-1],
                "voided_desk": f"skranke-{n}",
                "voided_utc": NOON_UTC.isoformat(),
            }
        )
    Store(db, spool_dir=spool_dir).open()  # created beforehand, as a desk would have
    command = [
        sys.executable,
        "-m",
        "triage",
        "spool",
        "flush",
        "--db",
        db,
        "--spool-dir",
        str(spool_dir),
    ]
    flushes = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [f.communicate(timeout=300) for f in flushes]
    for flush, (_out, err) in zip(flushes, outputs, strict=True):
        assert flush.returncode == 0, err
        assert "Traceback" not in err
    assert sum(sent_count(out) for out, _ in outputs) == 1204  # each entry sent by one of them
    store = Store(db, spool_dir=spool_dir)
    store.open()
    rows = store.visits()
    assert sorted(r["visit_id"] for r in rows) == sorted(expected)
    assert sum(r["voided_utc"] is not None for r in rows) == 4
    assert store.spool.waiting() == [] and store.spool.set_aside() == []
    store.dispose()


# --- a real full disk --------------------------------------------------------------------------

# A desk process whose files may not grow past a limit (RLIMIT_FSIZE: the kernel refuses the
# write part way, as on a full disk). It records until the spool is full, is told so, then
# records again once there is room. Prints one line per visit the desk was told is kept.
FULL_DISK_DESK = r"""
import json, resource, signal, sys
from pathlib import Path
from triage import paths
from triage.load import load_or_raise
from triage.db.errors import DbError
from triage.db.store import Store
from triage.visits import visit_from_result
from triage.walk import route

db, spool_dir = sys.argv[1], Path(sys.argv[2])
flow = load_or_raise(paths.default_data_dir())
result = route(flow, ["2", "1", "2100"])
store = Store(db, desk="skranke-1", spool_dir=spool_dir)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead

def visit():
    return visit_from_result(result, "jc-skelbaek", "skranke-1", "in_person", 1.0)

def record(v):
    try:
        status = store.record(v)
    except DbError as error:
        print(json.dumps({"refused": error.params["reason"]}), flush=True)
        return
    print(json.dumps({"kept": v["visit_id"], "status": status}), flush=True)

for _ in range(5):
    record(visit())
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
size = store.spool.path.stat().st_size
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1000, hard))  # about two more lines, then full
for _ in range(6):
    record(visit())
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # room again
for _ in range(5):
    record(visit())
"""


def test_a_real_full_disk_loses_no_acknowledged_visit(later, tmp_path):
    spool_dir = tmp_path / "spool"
    db, bring_up = later
    desk = subprocess.run(
        [sys.executable, "-c", FULL_DISK_DESK, db, str(spool_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=ENV,
    )
    assert desk.returncode == 0, desk.stderr
    said = [json.loads(line) for line in desk.stdout.splitlines()]
    kept = [s["kept"] for s in said if "kept" in s]
    refused = [s["refused"] for s in said if "refused" in s]
    assert len(refused) >= 3 and all("File too large" in r for r in refused)  # told, card kept
    assert len(kept) + len(refused) == 16 and len(kept) >= 11
    assert said[-1].get("status") == "spooled"  # appends work again once there is room
    own = spool_of(spool_dir, db)
    assert (own.directory / "skranke-1.jsonl").read_bytes().endswith(b"\n")  # no half line left

    bring_up()
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 0, flushed.stderr
    assert sent_count(flushed.stdout) == len(kept)
    ids = stored_ids(db, spool_dir)
    assert sorted(ids) == sorted(kept)  # every acknowledged visit, exactly once
    assert own.set_aside() == []


# --- desk names ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, allowed",
    [
        ("skranke-1", True),
        ("a", True),
        ("desk-12-b", True),
        ("x" * 32, True),
        ("jc-nord-0101", True),
        ("x" * 33, False),
        ("", False),
        ("Anna Hansen 010190-1234", False),
        ("anna_hansen", False),
        ("skranke-010190", False),
        ("0101901234", False),
        ("skranke/1", False),
        ("skranke.1", False),
        ("skrænke-1", False),
        ("skranke-1\n", False),
        (None, False),
        (7, False),
        # A CPR number split by hyphens, any way: at most 4 digits in all.
        ("d-0101-90-1234", False),
        ("x-01-01-90-12-34", False),
        ("skranke-12345", False),
        ("0101-90-1234", False),
        ("01-01-90-12-34", False),
        # A letter first, lower case only (README says a-z).
        ("A", False),
        ("SKRANKE-2", False),
        ("Skranke-2", False),
        ("1-skranke", False),
        ("-x", False),
    ],
)
def test_desk_names_are_short_ids(name, allowed):
    assert valid_desk_name(name) is allowed


def test_the_desk_refuses_a_name_that_is_not_a_short_id(tmp_path):
    started = triage("--desk", "Anna Hansen 010190-1234", "--db", str(tmp_path / "v.db"))
    assert started.returncode == 1
    assert "kort id" in started.stderr and "CPR" in started.stderr
    assert "Anna" not in started.stderr and "010190" not in started.stderr  # not repeated back
    assert not (tmp_path / "v.db").exists()
    english = triage("desk", "--desk", "x" * 33, "--lang", "en")
    assert english.returncode == 1 and "short id" in english.stderr


@pytest.mark.parametrize("name", ["0101-90-1234", "01-01-90-12-34", "SKRANKE-2"])
def test_the_desk_refuses_a_cpr_number_split_by_hyphens_and_upper_case(tmp_path, name):
    started = triage("--desk", name, "--db", str(tmp_path / "v.db"))
    assert started.returncode == 1 and "højst 4 tal i alt" in started.stderr
    assert name not in started.stderr  # not repeated back
    assert not (tmp_path / "v.db").exists()


def test_the_core_refuses_a_desk_name_too(tmp_path):
    with pytest.raises(ValueError):
        DeskLog(None, "jc-skelbaek", "Anna Hansen 010190-1234", spool_dir=tmp_path)
    with pytest.raises(ValueError):
        Store(tmp_path / "v.db", desk="y" * 65, spool_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no spool file named after anyone


def test_a_spool_status_waits_for_nothing_when_there_is_no_spool(tmp_path):
    done = triage("spool", "status", "--spool-dir", str(tmp_path / "none"))
    assert done.returncode == 0 and "0 besøg og 0 annulleringer venter" in done.stdout


# --- what is not a spool file: links, pipes, folders -------------------------------------------


def test_a_link_named_like_a_spool_file_is_left_alone(tmp_path):
    """A symbolic link to someone's file is never followed: the file is neither emptied nor
    copied into the quarantine file, and the output stays short."""
    spool_dir = tmp_path / "spy"
    spool_dir.mkdir()
    victim = tmp_path / "v.txt"
    victim.write_text("".join(f"{n}\n" for n in range(1, 3001)))
    victim.chmod(0o600)
    (spool_dir / "evil.jsonl").symlink_to(victim)
    db = str(tmp_path / "demo2.db")

    for action in ("status", "flush"):
        done = triage("spool", action, "--db", db, "--spool-dir", str(spool_dir))
        assert done.returncode == 1
        assert "evil.jsonl er ikke en spoolfil" in done.stderr and "urørt" in done.stderr
        assert len((done.stdout + done.stderr).splitlines()) <= 5
    assert victim.read_text() == "".join(f"{n}\n" for n in range(1, 3001))  # untouched
    assert oct(victim.stat().st_mode & 0o777) == oct(0o600)
    assert not list(spool_dir.rglob(QUARANTINE))  # nothing copied out
    assert (spool_dir / "evil.jsonl").is_symlink()


def test_a_pipe_or_a_linked_quarantine_is_never_opened(tmp_path, flow):
    """A pipe with a spool file's name would hang a reader; a link put where the quarantine
    file goes would be written through. Neither is opened."""
    db = str(tmp_path / "v.db")
    spool = Spool(tmp_path / "spool", "skranke-1", database=database_identity(db))
    spool.append(make_visit(flow))
    os.mkfifo(spool.directory / "pipe.jsonl")
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("keep\n")
    spool.quarantine.symlink_to(elsewhere)
    with open(spool.path, "a", encoding="utf-8") as handle:
        handle.write("torn")  # makes the next append want to write to the quarantine file
    with pytest.raises(OSError):
        spool.append(make_visit(flow))
    assert elsewhere.read_text() == "keep\n"
    flushed = triage(
        "spool", "flush", "--db", db, "--spool-dir", str(tmp_path / "spool"), timeout=60
    )
    assert flushed.returncode == 1 and "pipe.jsonl er ikke en spoolfil" in flushed.stderr
    assert elsewhere.read_text() == "keep\n"


def test_the_desk_never_appends_through_a_link(tmp_path, flow):
    from triage.db.errors import DbError

    store = Store(unreachable(tmp_path), desk="skranke-1", spool_dir=tmp_path / "spool")
    target = tmp_path / "target.txt"
    target.write_text("")
    store.spool.directory.mkdir(parents=True)
    store.spool.path.symlink_to(target)
    with pytest.raises(DbError):  # the desk says it could not keep the visit, keeps the card
        store.record(make_visit(flow))
    assert target.read_text() == ""


def test_spool_and_quarantine_files_are_only_for_their_owner(tmp_path, flow):
    spool = Spool(tmp_path / "spool", "skranke-1", database=database_identity(tmp_path / "x.db"))
    spool.append(make_visit(flow))
    with open(spool.path, "a", encoding="utf-8") as handle:
        handle.write("torn")
    old_umask = os.umask(0o022)
    try:
        spool.append(make_visit(flow))  # sets the torn line aside
    finally:
        os.umask(old_umask)
    for path in (spool.path, spool.quarantine, spool.directory / "database.txt"):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_many_reasons_are_told_briefly(tmp_path, flow):
    """Status and flush name at most 10 reasons, with counts; the quarantine file has all."""
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    lines = []
    for name in (
        "visit_id",
        "at_utc",
        "local_date",
        "local_hour",
        "local_weekday",
        "site_id",
        "channel",
        "outcome_id",
        "destination_id",
        "destinations",
        "handled_here",
        "path",
        "flow_version",
        "duration_s",
        "demo",
    ):
        for _ in range(3):
            visit = make_visit(flow)
            del visit[name]
            lines.append(json.dumps(visit))
    lines += ["42"] * 50
    (spool_dir / "skranke-1.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = str(tmp_path / "v.db")
    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    for done in (status, flushed):
        said = done.stdout.splitlines()
        assert len(said) <= 15, done.stdout
        assert "  50 × er hverken et besøg eller en annullering" in said
        assert any(line.startswith("  … og 18 flere") for line in said), done.stdout  # 95-50-27
    assert len(spool_of(spool_dir, db).set_aside()) == 95


# --- a spool per database ------------------------------------------------------------------------


def test_a_spooled_visit_goes_to_its_own_database_only(later, tmp_path, flow):
    """A desk on one database spools; a flush to another database sends none of it; status
    says which database it waits for; the flush to its own database sends it, once."""
    spool_dir = tmp_path / "spool"
    db, bring_up = later
    desk = DeskLog(db, "jc-skelbaek", "skranke-1", spool_dir=spool_dir)
    visit = make_visit(flow)
    assert desk.record(visit) == "spooled"
    demo = str(tmp_path / "demo.db")

    other = triage("spool", "flush", "--db", demo, "--spool-dir", str(spool_dir))
    assert other.returncode == 0 and sent_count(other.stdout) == 0
    assert stored_ids(demo, spool_dir) == []
    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    assert "1 besøg og 0 annulleringer venter" in status.stdout
    assert f"Til {database_identity(db)}: 1 besøg" in status.stdout
    only_demo = triage("spool", "status", "--db", demo, "--spool-dir", str(spool_dir))
    assert "0 besøg og 0 annulleringer venter" in only_demo.stdout

    demo_desk = DeskLog(demo, "jc-skelbaek", "skranke-2", spool_dir=spool_dir)
    assert demo_desk.open()  # its own replay at start leaves the other database's visit alone
    assert len(spool_of(spool_dir, db).waiting()) == 1
    demo_desk.store.dispose()

    bring_up()
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 0 and sent_count(flushed.stdout) == 1
    assert stored_ids(db, spool_dir) == [visit["visit_id"]]
    assert stored_ids(demo, spool_dir) == []


def test_the_spool_folder_names_its_database_without_the_password(tmp_path, flow):
    url = "postgresql+psycopg://clerk:s3cret@Db.example:5432/triage?password=s3cret"
    spool = Spool(tmp_path / "spool", "skranke-1", database=database_identity(url))
    spool.append(make_visit(flow))
    said = (spool.directory / "database.txt").read_text(encoding="utf-8")
    assert said == "postgresql://clerk@db.example:5432/triage\n"
    assert "s3cret" not in spool.directory.name
    # The same database, however --db is written, has the same folder.
    assert database_identity("postgresql://clerk:other@db.example:5432/triage") == said.strip()
    relative = database_identity("x.db")
    assert relative == database_identity(f"sqlite:///{Path('x.db').resolve()}")
    assert relative == database_identity(f"sqlite:///file:{Path('x.db').resolve()}?mode=ro")


def test_entries_of_an_earlier_version_wait_for_a_flush_that_names_the_database(tmp_path, flow):
    """Spooled by an earlier version (in the spool folder itself, no database recorded): the
    desk's own replay leaves them; `triage spool flush --db` sends them there."""
    spool_dir = tmp_path / "spool"
    visit = make_visit(flow)
    Spool(spool_dir, "skranke-1").append(visit)
    db = str(tmp_path / "v.db")
    desk = DeskLog(db, "jc-skelbaek", "skranke-2", spool_dir=spool_dir)
    assert desk.open() and desk.replayed.sent == 0
    desk.store.dispose()
    status = triage("spool", "status", "--spool-dir", str(spool_dir))
    assert "Fra en tidligere version, uden database angivet: 1 besøg" in status.stdout
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 0 and sent_count(flushed.stdout) == 1
    assert stored_ids(db, spool_dir) == [visit["visit_id"]]


# --- a line fixed by hand ------------------------------------------------------------------------


def test_lines_starting_with_a_byte_order_mark_are_sent(db, tmp_path, flow):
    """A line fixed in Notepad and put back starts with a BOM (and may end in CRLF)."""
    spool_dir = tmp_path / "spool"
    spool = spool_of(spool_dir, db)
    spool.directory.mkdir(parents=True)
    visits = [make_visit(flow) for _ in range(3)]
    (spool.directory / "manual.jsonl").write_bytes(
        b"\xef\xbb\xbf"
        + json.dumps(visits[0]).encode()
        + b"\r\n"
        + json.dumps(visits[1]).encode()
        + b"\n"
        + b"\xef\xbb\xbf"
        + json.dumps(visits[2]).encode()
        + b"\n"
    )
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir))
    assert flushed.returncode == 0, flushed.stdout + flushed.stderr
    assert sent_count(flushed.stdout) == 3
    assert sorted(stored_ids(db, spool_dir)) == sorted(v["visit_id"] for v in visits)
    assert spool.set_aside() == []


def test_the_flush_says_why_in_the_language_it_was_given(tmp_path):
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    (spool_dir / "skranke-1.jsonl").write_text("42\n", encoding="utf-8")
    db = str(tmp_path / "v.db")
    flushed = triage("spool", "flush", "--db", db, "--spool-dir", str(spool_dir), "--lang", "en")
    assert "1 × neither a visit nor a cancellation" in flushed.stdout
    (record,) = spool_of(spool_dir, db).set_aside()
    assert record["why_en"] == "neither a visit nor a cancellation"
    assert record["why_da"] == "er hverken et besøg eller en annullering"
