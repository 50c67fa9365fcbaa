"""`triage serve` in a real browser: headless Chromium, driven over the Chrome DevTools protocol
(its websocket), takes a ticket at the served kiosk and has it called and served at the served
desk; the rows in the database are checked, and each page is kept as a screenshot: in the
checkout's test-artefacts/ (git-ignored; CI keeps it as its artefacts), or in the folder
$TRIAGE_SCREENSHOTS names (a relative one from the checkout; set but empty: none kept).
Also the command's own refusals, each in a real subprocess."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ROOT, SHIPPED
from triage import serve

CHROMIUM = "/usr/bin/chromium"
SITE = "jc-skelbaek"  # queue A in the shipped queues.toml
WINDOW = (1280, 800)


def free_ports(count: int) -> int:
    """A base port with `count` free ports from it (the desk's, the kiosk's, …)."""
    # From a random place: two calls before either port is taken must not find the same one.
    for base in random.sample(range(21000, 60000, 10), 200):
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError("no free ports")


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No settings file, data folder or database URL of the machine's user."""
    env = dict(os.environ)
    env.pop("TRIAGE_DB_URL", None)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env["XDG_DATA_HOME"] = str(tmp_path / "data-home")
    return env


def triage(tmp_path: Path, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "triage", *args],
        env=isolated_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def wait_for(what: str, check, seconds: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def rows(db: Path, sql: str) -> list[dict]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in conn.execute(sql)]
        except sqlite3.OperationalError:  # no tables yet: the kiosk is still opening it
            return []


# --- the browser, over the DevTools protocol --------------------------------------------------

# What a key sends: (key, code, Windows key code, text).
KEYS = {
    "enter": ("Enter", "Enter", 13, "\r"),
    "f6": ("F6", "F6", 117, ""),
    "backspace": ("Backspace", "Backspace", 8, ""),
    "tab": ("Tab", "Tab", 9, ""),
    "down": ("ArrowDown", "ArrowDown", 40, ""),
}


# The terminal's size in cells is in the address of the page's websocket (textual.js adds it).
KEEP_WEBSOCKET_URL = """
const PageWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
    window.triageSocketUrl = url;
    return new PageWebSocket(url, protocols);
};
window.WebSocket.prototype = PageWebSocket.prototype;
"""


class Page:
    """One browser tab, driven over its DevTools websocket."""

    def __init__(self, websocket_url: str) -> None:
        import websocket  # websocket-client

        self.socket = websocket.create_connection(websocket_url, timeout=30, suppress_origin=True)
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events come in between; the answer carries our id
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)[
            "result"
        ].get("value")

    def click(self, x: int, y: int) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def cells(self) -> tuple[int, int, float, float]:
        """The terminal's columns and rows, and one cell's width and height in pixels."""
        query = parse_qs(urlsplit(self.evaluate("window.triageSocketUrl")).query)
        columns, rows = int(query["width"][0]), int(query["height"][0])
        width, height = self.evaluate(
            "(r => [r.width, r.height])"
            "(document.querySelector('.xterm-screen').getBoundingClientRect())"
        )
        return columns, rows, width / columns, height / rows

    def click_cell(self, column: float, row: float) -> None:
        """A click (a touch) at a place on the terminal, in cells."""
        *_, cell_width, cell_height = self.cells()
        left, top = self.evaluate(
            "(r => [r.left, r.top])"
            "(document.querySelector('.xterm-screen').getBoundingClientRect())"
        )
        self.click(round(left + column * cell_width), round(top + row * cell_height))

    def press(self, *keys: str, pause: float = 0.25) -> None:
        for name in keys:
            key, code, key_code, text = KEYS.get(name, (name, f"Key{name.upper()}", 0, name))
            if name.isdigit():
                code, key_code = f"Digit{name}", ord(name)
            self.call(
                "Input.dispatchKeyEvent",
                type="keyDown",
                key=key,
                code=code,
                windowsVirtualKeyCode=key_code,
                text=text,
            )
            self.call(
                "Input.dispatchKeyEvent",
                type="keyUp",
                key=key,
                code=code,
                windowsVirtualKeyCode=key_code,
            )
            time.sleep(pause)

    def screenshot(self, path: Path) -> Path:
        self.call("Page.bringToFront")  # a tab behind another draws nothing to take ...
        time.sleep(0.4)  # ... and its page's fade-in (0.3 s) runs only in front
        shot = self.call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        self.socket.close()


class Chromium:
    def __init__(self, profile: Path) -> None:
        self.port = free_ports(1)
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",  # tests may run as root
                "--disable-gpu",
                "--no-first-run",
                f"--remote-debugging-port={self.port}",
                "--remote-allow-origins=*",
                f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for("Chromium's DevTools port", lambda: listening(self.port))

    def open(self, url: str, before: str = "") -> Page:
        """A new tab on `url`, once the app is on screen; `before`: a script run before the
        page's own (benchmarks/serve_keys.py times keys with one)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            target = json.load(answer)
        page = Page(target["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Page.addScriptToEvaluateOnNewDocument", source=KEEP_WEBSOCKET_URL + before)
        page.call("Page.navigate", url=url)
        # The app is on screen once its first bytes came (textual-serve's page marks it).
        wait_for(
            f"the app at {url}",
            lambda: page.evaluate("document.body.classList.contains('-first-byte')"),
        )
        time.sleep(1.0)  # the app's first screen is drawn and takes keys
        page.evaluate("document.querySelector('.xterm-helper-textarea').focus()")  # the keys
        return page

    def allow_downloads(self, folder: Path) -> None:
        """Downloads saved in `folder` without asking (the browser's own setting, over CDP)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/version") as answer:
            address = json.load(answer)["webSocketDebuggerUrl"]
        # Kept open: Chromium forgets the setting when the connection that made it closes.
        self.session = Page(address)
        self.session.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(folder))

    def quit(self) -> None:
        if getattr(self, "session", None) is not None:
            self.session.close()
        stop(self.process)


@pytest.fixture
def chromium(tmp_path) -> Iterator[Chromium]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian package chromium; CI installs it)")
    browser = Chromium(tmp_path / "profile")
    yield browser
    browser.quit()


def artefacts() -> Path | None:
    """Where the browser test keeps its screenshots (tmp_path goes with the run)."""
    folder = os.environ.get("TRIAGE_SCREENSHOTS", "test-artefacts")
    return ROOT / folder if folder else None


def keep(shot: Path) -> None:
    """A screenshot as the test's artefact, copied to artefacts()."""
    folder = artefacts()
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, folder / shot.name)


def processes_naming(word: str) -> list[str]:
    """The command lines of this machine's processes that hold `word`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:  # ended meanwhile
            continue
        if any(word in w for w in words):
            found.append(" ".join(words))
    return found


def stop(process: subprocess.Popen) -> tuple[str, str]:
    process.terminate()
    try:
        return process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()


def kiosk_button_centre(
    selector: str, size: tuple[int, int], tmp_path: Path
) -> tuple[float, float]:
    """Where the kiosk draws a button of its first question at this size, in cells: the same
    app at the same size, asked with Pilot (the browser's canvas holds no text to search)."""
    from tests.test_kiosk import kiosk, settle
    from triage.load import load

    loaded = load(SHIPPED, check_cases=False, queues=True)

    async def find() -> tuple[float, float]:
        app = kiosk(loaded, str(tmp_path / "layout.db"), tmp_path / "layout")
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            region = app.screen.query_one(selector).region
            return region.x + region.width / 2, region.y + region.height / 2

    return asyncio.run(find())


# --- the browser test -------------------------------------------------------------------------


def test_a_ticket_from_the_served_kiosk_is_called_and_served_at_the_served_desk(chromium, tmp_path):
    db = tmp_path / "triage.db"
    base = free_ports(4)
    server = triage(
        tmp_path,
        *("serve", "--db", str(db), "--site", SITE),
        *("--port", str(base), "--role", "kiosk", "--role", "desk"),
    )
    pages: dict[str, Page] = {}
    kept = artefacts()
    for old in kept.glob("serve-*.png") if kept is not None else ():
        old.unlink()  # the artefacts show this run alone
    try:
        wait_for("triage serve", lambda: listening(base) and listening(base + 1))
        kiosk = pages["kiosk"] = chromium.open(f"http://127.0.0.1:{serve.port_of('kiosk', base)}/")
        # Job (a touch on its button), postcode 1717 (Skelbækgade's own), register as
        # unemployed: a ticket in queue A.
        columns, lines, *_ = kiosk.cells()
        kiosk.click_cell(*kiosk_button_centre("#kiosk-option-4", (columns, lines), tmp_path))
        time.sleep(0.5)
        keep(kiosk.screenshot(tmp_path / "serve-kiosk-postcode.png"))
        kiosk.press("1", "7", "1", "7", "enter", "2")
        (ticket,) = wait_for("the kiosk's ticket", lambda: rows(db, "SELECT * FROM visit_ticket"))
        assert (ticket["site_id"], ticket["queue"], ticket["state"]) == (SITE, "A", "waiting")
        assert ticket["errand"] == "register_unemployed"  # the touched answer, then the keys
        keep(kiosk.screenshot(tmp_path / "serve-kiosk.png"))

        # This browser's desk is chosen by its address (the others' default: skranke-1).
        desk = pages["desk"] = chromium.open(
            f"http://127.0.0.1:{serve.port_of('desk', base)}/?desk=skranke-7"
        )

        def called() -> list[dict]:
            desk.press("f6")  # again until the desk has read its queue; never twice a ticket
            return rows(db, "SELECT * FROM visit_ticket WHERE state = 'called'")

        (ticket,) = wait_for("the desk's call", called, every=1.0)
        assert ticket["desk"] == "skranke-7"
        keep(desk.screenshot(tmp_path / "serve-desk-called.png"))
        time.sleep(1.1)  # a second of service at least
        desk.press("1", "1", "enter")  # routed on to Sygedagpenge, and registered
        (visit,) = wait_for("the visit", lambda: rows(db, "SELECT * FROM visit"))
        keep(desk.screenshot(tmp_path / "serve-desk-served.png"))
        desk.close()
        kiosk.close()
    except Exception:
        for name, page in pages.items():  # what each page showed when it went wrong
            with contextlib.suppress(Exception):
                keep(page.screenshot(tmp_path / f"serve-{name}-failed.png"))
        raise
    finally:
        out, err = stop(server)  # the pages are still open
    assert server.returncode == 0, err
    assert processes_naming(str(db)) == []  # each page's triage has ended with it
    (ticket,) = rows(db, "SELECT * FROM visit_ticket")
    assert ticket["state"] == "served" and ticket["desk"] == "skranke-7"
    assert (visit["site_id"], visit["desk"], visit["outcome_id"]) == (
        SITE,
        "skranke-7",
        "sick_followup",
    )
    assert (visit["wait_s"], visit["service_s"]) == (ticket["wait_s"], ticket["service_s"])
    assert visit["wait_s"] >= 1 and 1 <= visit["service_s"] < 60
    assert "Kiosken: http://127.0.0.1:" in out and "Skranken: http://127.0.0.1:" in out
    assert "Traceback" not in err
    for name in (
        "serve-kiosk-postcode.png",
        "serve-kiosk.png",
        "serve-desk-called.png",
        "serve-desk-served.png",
    ):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG")
        if kept is not None:
            assert (kept / name).read_bytes() == (tmp_path / name).read_bytes()


def loaded(page: Page) -> bool:
    """Whether the page shows its app (a page being reloaded may not answer yet)."""
    try:
        return bool(page.evaluate("document.body.classList.contains('-first-byte')"))
    except Exception:  # noqa: BLE001 - between two documents
        return False


def page_state(page: Page) -> dict:
    return page.evaluate(
        "({closed: document.body.classList.contains('-closed'),"
        " reopening: window.triageReopening === true,"
        " marked: window.triageMark === true,"
        " said: (document.querySelector('.closed-dialog .message') || {}).textContent})"
    )


def test_pages_reopen_by_themselves_when_triage_serve_is_back(chromium, tmp_path):
    """A board (a TV nobody touches), a kiosk and a desk are open when triage serve stops, as
    for an update: each says the connection is gone and that it tries again, and once the
    server is started again each opens by itself, without a click."""
    db = tmp_path / "triage.db"
    base = free_ports(4)
    command = ("serve", "--db", str(db), "--site", SITE, "--port", str(base))
    roles = {"desk": "?desk=skranke-4", "kiosk": "", "board": ""}
    server = triage(tmp_path, *command)
    pages: dict[str, Page] = {}
    try:
        wait_for("triage serve", lambda: all(listening(base + i) for i in range(3)))
        for role, query in roles.items():
            pages[role] = chromium.open(f"http://127.0.0.1:{serve.port_of(role, base)}/{query}")
            pages[role].evaluate("window.triageMark = true")  # gone once the page reloads
        out, err = stop(server)
        assert server.returncode == 0 and "Traceback" not in err
        for role, page in pages.items():
            state = wait_for(
                f"the {role} page closed", lambda p=page: page_state(p)["closed"] and page_state(p)
            )
            assert state["reopening"] and state["marked"], (role, state)
            assert "Forbindelsen til serveren er væk" in state["said"]
            assert "prøver igen af sig selv" in state["said"]
            keep(page.screenshot(tmp_path / f"serve-{role}-server-gone.png"))
        time.sleep(serve.REOPEN_SECONDS + 1)  # a try or two while the server is away
        assert all(page_state(page)["marked"] for page in pages.values())  # still waiting
        server = triage(tmp_path, *command)
        for role, page in pages.items():
            wait_for(
                f"the {role} page reopened",
                lambda p=page: loaded(p) and not page_state(p)["marked"],
                seconds=serve.REOPEN_SECONDS * 4,
            )
            time.sleep(0.5)
            assert not page_state(page)["closed"]
            keep(page.screenshot(tmp_path / f"serve-{role}-reopened.png"))
        # The reopened desk is the page's own again (its ?desk= kept), and takes keys.
        assert "/ws/desk=skranke-4" in pages["desk"].evaluate("window.triageSocketUrl")
    except Exception:
        for name, page in pages.items():
            with contextlib.suppress(Exception):
                keep(page.screenshot(tmp_path / f"serve-{name}-reopen-failed.png"))
        raise
    finally:
        for page in pages.values():
            page.close()
        out, err = stop(server)
    assert "Traceback" not in err


def test_a_desk_page_whose_user_quit_stays_closed(chromium, tmp_path):
    """Ctrl+Q at a served desk ends that page's desk: the page says it has closed and stays
    so (a desk that came back by itself would undo the quit), while the server goes on."""
    base = free_ports(4)
    server = triage(tmp_path, "serve", "--db", str(tmp_path / "t.db"), "--port", str(base))
    try:
        wait_for("triage serve", lambda: listening(base))
        page = chromium.open(f"http://127.0.0.1:{base}/?desk=skranke-5")
        page.evaluate("window.triageMark = true")
        page.call(
            "Input.dispatchKeyEvent",
            type="keyDown",
            key="q",
            code="KeyQ",
            windowsVirtualKeyCode=81,
            modifiers=2,
        )
        page.call(
            "Input.dispatchKeyEvent",
            type="keyUp",
            key="q",
            code="KeyQ",
            windowsVirtualKeyCode=81,
            modifiers=2,
        )
        wait_for("the desk page closed", lambda: page_state(page)["closed"])
        time.sleep(serve.REOPEN_SECONDS + 2)
        state = page_state(page)
        assert state["closed"] and state["marked"] and not state["reopening"], state
        assert "Siden er lukket" in state["said"] and "Åbn igen" in state["said"]
        keep(page.screenshot(tmp_path / "serve-desk-quit.png"))
        page.close()
    finally:
        stop(server)


@pytest.mark.parametrize("form", ["xlsx", "csv"])
def test_the_served_overviews_export_is_downloaded_in_the_browser(chromium, tmp_path, form):
    """E, Enter in the served overview: the workbook arrives in the browser's download folder
    (read back here), and no copy is left on the server. CSV, a folder of files, comes as one
    zip of them."""
    import openpyxl

    db = tmp_path / "triage.db"
    demo = triage(tmp_path, "demo", "--db", str(db), "--days", "3", "--per-day", "40")
    assert demo.wait(timeout=120) == 0, demo.communicate()
    base = free_ports(4)
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    home = tmp_path / "server-home"
    home.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "triage", "serve", "--db", str(db), "--port", str(base)],
        env={**isolated_env(tmp_path), "TMPDIR": str(server_tmp), "HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    page = None
    try:
        wait_for("triage serve", lambda: listening(base + 3))
        chromium.allow_downloads(downloads)
        page = chromium.open(f"http://127.0.0.1:{serve.port_of('overview', base)}/")
        time.sleep(2.0)  # the overview's figures
        page.press("e")
        time.sleep(1.0)
        if form == "csv":  # from the file's name round to the formats: the second one
            page.press("tab", "down", "enter", "tab", "tab")
        keep(page.screenshot(tmp_path / f"serve-export-{form}-dialog.png"))
        page.press("enter")
        suffix = ".xlsx" if form == "xlsx" else ".zip"
        files = wait_for(
            "the download", lambda: list(downloads.glob(f"triage-*{suffix}")), seconds=60
        )
        time.sleep(1.0)
        keep(page.screenshot(tmp_path / f"serve-export-{form}-downloaded.png"))
        (delivered,) = files
        if form == "xlsx":
            workbook = openpyxl.load_workbook(delivered, read_only=True)
            assert len(workbook.sheetnames) >= 2
            workbook.close()
        else:
            with zipfile.ZipFile(delivered) as archive:
                names = archive.namelist()
                assert len(names) >= 2 and all(n.endswith(".csv") for n in names)
                assert b"jc-" in b"".join(archive.read(n) for n in names)  # the sites' rows
        assert list(server_tmp.iterdir()) == []  # the server's own copy is gone
        assert list(home.rglob("triage-*")) == []  # and none in the server's folders
    except Exception:
        if page is not None:
            with contextlib.suppress(Exception):
                keep(page.screenshot(tmp_path / "serve-export-failed.png"))
        raise
    finally:
        if page is not None:
            page.close()
        out, err = stop(server)
    assert "Traceback" not in err


# --- the command's refusals and its command lines --------------------------------------------


@pytest.mark.parametrize(
    ("taken_ports", "says"),
    [
        ((2,), "Port {2} (tavlen) er optaget af et andet program"),
        # Every busy port at once, so that the next --port is the last try.
        ((0, 1, 3), "Portene {0} (skranken), {1} (kiosken) og {3} (oversigten) er optaget"),
    ],
)
def test_ports_in_use_are_said_in_danish_all_at_once(tmp_path, taken_ports, says):
    base = free_ports(4)
    with contextlib.ExitStack() as stack:
        for offset in taken_ports:
            taken = stack.enter_context(socket.socket())
            taken.bind(("127.0.0.1", base + offset))
            taken.listen()
        process = triage(tmp_path, "serve", "--port", str(base))
        out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert says.format(*(base + i for i in range(4))) in err, err
    assert "Traceback" not in err and "(desk)" not in err and "(board)" not in err
    assert not any(listening(base + i) for i in range(4) if i not in taken_ports)


@pytest.mark.parametrize(
    ("options", "says", "not_said"),
    [
        # An address the machine does not have (TEST-NET-1, never a machine's own).
        (["--host", "192.0.2.1"], "for maskinen har ikke den adresse", "cannot assign"),
        (["--host", "no-such-host.invalid"], "kan ikke finde adressen no-such-host", "Name"),
        (["--port", "65534"], "hver rolle sin faste port", "Traceback"),
    ],
)
def test_a_place_triage_serve_cannot_listen_is_said_plainly(tmp_path, options, says, not_said):
    process = triage(tmp_path, "serve", *options)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and says in err, err
    assert not_said not in err and "Traceback" not in err and "http://" not in out


def test_serving_on_every_address_names_what_is_served_and_an_address_to_open(tmp_path):
    base = free_ports(4)
    server = triage(tmp_path, "serve", "--host", "0.0.0.0", "--role", "board", "--port", str(base))
    try:
        wait_for("triage serve", lambda: listening(base + 2))
        with urllib.request.urlopen(f"http://127.0.0.1:{base + 2}/") as answer:
            html = answer.read().decode()
    finally:
        out, err = stop(server)
    # The page talks back to the address it was opened by (here 127.0.0.1), not 0.0.0.0.
    assert f'"ws://127.0.0.1:{base + 2}/ws"' in html and "0.0.0.0" not in html
    assert f"Tavlen: http://{socket.gethostname()}:{base + 2}" in out
    assert "0.0.0.0:" not in out
    assert "kan åbne tavlen uden at logge på" in err and "skranke" not in err


def test_serve_and_db_say_what_they_do_in_their_help(tmp_path):
    said = {}
    for command in (["serve"], ["db"], ["db", "roles"]):
        done = subprocess.run(
            [sys.executable, "-m", "triage", *command, "--help"],
            env=isolated_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        said[" ".join(command)] = done.stdout
    assert "Serve the desk, the kiosk, the board and the supervisor's overview" in said["serve"]
    assert "triage db roles prints the SQL" in said["db"]
    assert said["db roles"].startswith("usage: triage db roles")
    assert "--prefix" in said["db roles"] and "--apply" in said["db roles"]


def test_without_textual_serve_the_pip_command_is_said(tmp_path):
    """As on a machine without the extra: textual_serve cannot be imported."""
    code = (
        "import sys; sys.modules['textual_serve'] = None; "
        "from triage.cli import main; sys.exit(main(['serve', '--lang', 'en']))"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], env=isolated_env(tmp_path), capture_output=True, text=True
    )
    assert process.returncode == 1
    assert "pip install 'textual-serve>=1.1.3,<2'" in process.stderr
    assert "'triage[serve]'" not in process.stderr  # another project's name on the index


def serve_after(shim: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`triage serve` run with `shim` as a sitecustomize on its path: Python runs it first, as
    if another textual-serve had been installed."""
    folder = tmp_path / "shim"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(shim, encoding="utf-8")
    path = os.pathsep.join([str(folder), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "triage", "serve", *args],
        env={**isolated_env(tmp_path), "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("lang", ["da", "en"])
@pytest.mark.parametrize("part", ["_process_messages", "_make_app"])
def test_a_textual_serve_without_what_triage_uses_is_refused_at_start(tmp_path, part, lang):
    """As after `pip install` of another textual-serve: a sitecustomize on PYTHONPATH takes one
    of the private methods triage serve uses away before triage starts. It refuses at once
    (exit 1, no port opened), naming what is missing and the versions that work."""
    base = free_ports(4)
    shim = f"import textual_serve.server\ndel textual_serve.server.Server.{part}\n"
    done = serve_after(shim, tmp_path, "--port", str(base), "--lang", lang)
    assert done.returncode == 1, done.stdout + done.stderr
    said = {
        "da": "virker med textual-serve fra 1.1.3 op til, men ikke med, 2.0",
        "en": "works with textual-serve from 1.1.3 up to, but not including, 2.0",
    }[lang]
    assert f"Server.{part}" in done.stderr and said in done.stderr, done.stderr
    assert "pip install 'textual-serve>=1.1.3,<2'" in done.stderr
    assert "Traceback" not in done.stderr and "http://" not in done.stdout
    assert not listening(base)


def test_an_untried_textual_serve_with_all_triage_uses_starts_with_a_warning(tmp_path):
    """A textual-serve that calls itself 2.1.0 but has every part: said, and serve goes on (to
    the port taken here, which stops it without serving for long)."""
    shim = (
        "import importlib.metadata as metadata\n"
        "real = metadata.version\n"
        "metadata.version = lambda name: '2.1.0' if name == 'textual-serve' else real(name)\n"
    )
    base = free_ports(4)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))  # the desk's port
        taken.listen()
        done = serve_after(shim, tmp_path, "--port", str(base))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Advarsel: textual-serve 2.1.0 er installeret" in done.stderr
    assert "kun afprøvet med textual-serve fra 1.1.3 op til, men ikke med, 2.0" in done.stderr
    assert f"Port {base} (skranken) er optaget" in done.stderr  # it went on to start


def test_the_versions_triage_serve_works_with_are_pyprojects():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"textual-serve{serve.WORKS_WITH}"' in pyproject
    assert serve.missing_parts() == []  # the installed one has all triage serve uses
    assert serve.version_works(serve.installed_version())
    works = ["1.1.3", "1.1.10", "1.2.0rc1", "1.9"]
    assert [serve.version_works(v) for v in works] == [True] * 4
    untried = ["1.1.2", "1.0", "2.0.0", "2.0.0a1", "10.1", "?"]
    assert [serve.version_works(v) for v in untried] == [False] * 6


def test_a_password_on_the_command_line_is_refused(tmp_path):
    process = triage(tmp_path, "serve", "--db", "postgresql://skranke:hemmelig1@server/triage")
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "proceslisten" in err and "hemmelig1" not in err + out


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--site", "jc-nrod"], "Stedet 'jc-nrod' findes ikke"),
        (["--data", "no-such-folder"], "no-such-folder"),
    ],
)
def test_a_site_or_data_folder_every_page_would_refuse_is_refused_at_once(tmp_path, options, says):
    base = free_ports(4)
    process = triage(tmp_path, "serve", "--port", str(base), *options, cwd=tmp_path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1 and says in err
    assert "http://" not in out and not listening(base)


def test_served_commands_hold_no_password_and_keep_their_ports(tmp_path):
    config = tmp_path / "triage.toml"
    options = {"data": None, "db": str(tmp_path / "t.db"), "site": SITE, "desk": "skranke-2"}
    served = serve.plan(["overview", "desk"], options, config, base_port=9000)
    assert [(one.role, one.port) for one in served] == [("desk", 9000), ("overview", 9003)]
    desk, overview = served
    assert f"-m triage desk --config {config.resolve()} --db {tmp_path / 't.db'}" in desk.command
    assert desk.command.endswith(f"--site {SITE} --desk skranke-2")
    assert " summary --tui " in overview.command and "--site" not in overview.command
    assert desk.command_for({"desk": "skranke-9"}).endswith(f"--site {SITE} --desk skranke-9")
    assert desk.command_for({"desk": "Jens Hansen"}) is None
    assert overview.command_for({"site": SITE}) is None  # the overview's --site is a filter
    behind = serve.plan(["kiosk"], options, None, public_url="https://triage.example.dk/")
    assert behind[0].public_url == "https://triage.example.dk/kiosk"


def test_a_page_chooses_its_desk_by_id_only(tmp_path):
    base = free_ports(4)
    server = triage(tmp_path, "serve", "--port", str(base), "--role", "desk", "--role", "board")
    try:
        wait_for("triage serve", lambda: listening(base) and listening(base + 2))

        def page(port: int, query: str) -> tuple[int, str]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/{query}") as answer:
                    return answer.status, answer.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode()

        status, html = page(base, "?desk=skranke-3")
        assert status == 200 and f"ws://127.0.0.1:{base}/ws/desk=skranke-3" in html
        assert "googleapis" not in html and "textual.js" in html  # nothing fetched from outside
        assert "Session ended" not in html and "Åbn igen · Open again" in html
        assert "prøver igen af sig selv" in html  # the page's own script says it when closed
        # Refused: the parameter and its value named, "ret … i adressen", in the dark page.
        for query, says in [
            ("?desk=Skranke%203%3BDROP", "?desk=Skranke 3;DROP i adressen er ikke et id"),
            ("?site=nope&desk=", "?desk= i adressen er tom"),
            ("?site=Nord", "?site=Nord i adressen er ikke et id"),
            ("?site=nope", "Stedet &#x27;nope&#x27; findes ikke. Ret ?site= i adressen"),
        ]:
            status, said = page(base, query)
            assert status == 404 and says in said, (query, said)
            assert "Ret ?" in said and "#0c181f" in said and "--site" not in said
        status, said = page(base + 2, "?desk=skranke-3")  # the board has no desk
        assert status == 404 and "Denne side tager ikke ?desk=" in said
        status, said = page(base + 2, "?site=frederiksberg")  # a site without queues
        assert status == 404 and "ingen køer" in said and "Ret ?site= i adressen" in said
        assert "<script>alert" not in page(base, "?desk=%3Cscript%3Ealert(1)")[1]  # escaped
        status, html = page(base + 2, f"?site={SITE}")
        assert status == 200 and f"/ws/site={SITE}" in html
    finally:
        stop(server)


@pytest.mark.parametrize(
    ("command", "says", "environment"),
    [
        (["desk", "--site", "nope"], "Stedet 'nope' findes ikke", {}),
        (["board", "--db", "missing/triage.db"], "missing", {}),
        # The page's command has the server's environment: the page names where the db came from.
        (["board"], "TRIAGE_DB_URL", {"TRIAGE_DB_URL": "gone/t.db"}),
    ],
)
def test_a_served_command_that_cannot_start_says_why_in_the_page(
    tmp_path, command, says, environment
):
    """Under triage serve a page whose command stops before its screen (an unknown site, a
    database that is not there yet) shows what the command said, not the splash for good; the
    server's terminal has it too."""
    env = {**isolated_env(tmp_path), "TEXTUAL_DRIVER": "textual.drivers.web_driver:WebDriver"}
    env.update(environment)
    page = subprocess.Popen(
        [sys.executable, "-m", "triage", *command],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    shown = b""
    try:
        assert page.stdout is not None
        os.set_blocking(page.stdout.fileno(), False)
        deadline = time.monotonic() + 30
        while b"triage serve" not in shown and time.monotonic() < deadline:
            shown += page.stdout.read() or b""
            time.sleep(0.05)
    finally:
        page.kill()
        _, err = page.communicate(timeout=30)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]|\s+", " ", shown.decode("utf-8", "replace"))
    assert "Siden kan ikke vise triage, fordi:" in text, text[-2000:]
    assert says in text and says in err.decode()
    assert "Traceback" not in err.decode()
