"""`triage serve`: the desk, the kiosk, the board and the supervisor's overview in a browser.

textual-serve serves one command per web server, and starts that command anew for every browser
that connects. So each role gets a server of its own, on its own port (the desk on the base port,
the kiosk on the next, then the board, then the overview), all in this one process: one thing to
start and stop, and a role keeps its port whichever others are served. The reverse proxy in front
maps paths (https://triage.example.dk/desk/ …) to the ports; `public_url` tells the page where
its websocket is then.

A served command never holds a database password: the children inherit TRIAGE_DB_URL through the
environment and read the settings file themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
import json
import re
import shlex
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

# The roles in the order of their ports: the base port + the role's place here.
ROLES = ("desk", "kiosk", "board", "overview")
DEFAULT_PORT = 8000
DEFAULT_HOST = "127.0.0.1"
ANY_ADDRESS = ("0.0.0.0", "::", "")  # listening on every address the machine has
HOST_HEADER = re.compile(r"[A-Za-z0-9.:\[\]-]{1,260}")  # a browser's Host: name or IP, port
# On Ctrl+C: how long open pages get before their connections are cut (each page's triage
# is then told to quit, and is waited for).
SHUTDOWN_SECONDS = 1.0
# Which triage command serves a role.
COMMANDS = {
    "desk": ["desk"],
    "kiosk": ["kiosk"],
    "board": ["board"],
    "overview": ["summary", "--tui"],
}
# The options each command takes from `triage serve` (the overview's --site is a filter).
PASSED = {
    "desk": ("data", "db", "site", "desk"),
    "kiosk": ("data", "db", "site"),
    "board": ("data", "db", "site"),
    "overview": ("data", "db"),
}


# What a page's address may choose: ?site=jc-nord&desk=skranke-3 (ids only: letters a-z, digits,
# hyphens; the served command checks that the site exists and the rules of a desk's id).
PAGE_OPTIONS = ("site", "desk")
PAGE_VALUE = re.compile(r"[a-z][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class Served:
    """One role: its port, the address its browsers use, and what its command line is made of."""

    role: str
    port: int
    public_url: str
    options: dict[str, str | None]
    config: Path | None
    data: Path | None = None  # the data folder the pages' triage reads (a page's ?site= checked)
    proxied: bool = False  # public_url is the reverse proxy's (--public-url)

    @property
    def command(self) -> str:
        return command_line(self.role, self.options, self.config)

    def command_for(self, page: dict[str, str]) -> str | None:
        """The command for a page opened with ?site=…&desk=… (a desk of its own per browser);
        None when a value is no id (the child would refuse an unknown one itself)."""
        chosen = dict(self.options)
        for name in PAGE_OPTIONS:
            value = page.get(name)
            if value is None:
                continue
            if name not in PASSED[self.role] or not PAGE_VALUE.fullmatch(value):
                return None
            chosen[name] = value
        return command_line(self.role, chosen, self.config)


# textual-serve's own words on the page once its triage has quit (a citizen may read them):
# said in the page's script (PAGE_SCRIPT), which knows why the page closed.
PAGE_WORDS = {
    '<div class="message">Session ended.</div>': '<div class="message"></div>',
    'onClick="refresh()">Restart</button>': 'onClick="refresh()">{open_again}</button>',
}
# How often a page whose server went away asks whether it is back (seconds).
REOPEN_SECONDS = 5
# The close code a page gets when triage serve stops (an update, a reboot): "service restart".
# A page whose triage quit by itself (Ctrl+Q at a desk) gets 1000, as textual-serve sends it.
RESTART_CODE = 1012
# Roles whose page reopens even after its triage quit: nobody is there to click (a TV, a
# touch screen). A desk or overview page reopens after a restart, not after its user quit.
ALWAYS_REOPEN = ("kiosk", "board")

# Put in every page, before textual.js: (1) when the page's connection ends and the person did
# not quit, the page says so and asks every REOPEN_SECONDS whether the server answers again,
# then reloads itself (a TV or a kiosk has no keyboard to click "open again" with); (2) a file
# the app delivers (the overview's export) is fetched as a download from the role's own
# address: textual.js opens <origin>/download/… in a new tab, which a popup blocker stops and
# which misses the role's path behind the reverse proxy.
PAGE_SCRIPT = r"""<style>
.closed-dialog .intro { flex-direction: column; height: auto; min-height: 240px;
  padding: 16px 32px; box-sizing: border-box; }
</style>
<script>
(() => {
  const reopenAlways = %(always)s, everyMs = %(every)d, downloads = %(downloads)s;
  const said = %(said)s;
  const PageSocket = window.WebSocket;
  function TriageSocket(url, protocols) {
    const socket = new PageSocket(url, protocols);
    socket.addEventListener("close", (event) => closed(event.code));
    return socket;
  }
  TriageSocket.prototype = PageSocket.prototype;
  for (const name of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) {
    TriageSocket[name] = PageSocket[name];
  }
  window.WebSocket = TriageSocket;
  let waiting = false;
  function say(text) {
    const message = document.querySelector(".closed-dialog .message");
    if (message) message.textContent = text;
  }
  function closed(code) {
    if (waiting) return;
    if (code === 1000 && !reopenAlways) { say(said.quit); return; }  // the person quit
    waiting = true;
    say(said.reopening);
    window.triageReopening = true;
    setInterval(async () => {
      try {
        const answer = await fetch(window.location.href, {cache: "no-store"});
        // Any answer but a proxy's "bad gateway" family: back (a refusal page says why).
        if (answer.status < 500) window.location.href = getStartUrl();
      } catch (error) {}  // not back yet
    }, everyMs);
  }
  const pageOpen = window.open;
  window.open = function (url, target, features) {
    const found = /\/download\/([^/?#]+)(\?[^#]*)?/.exec(String(url));
    if (!found) return pageOpen.call(window, url, target, features);
    const link = document.createElement("a");
    link.href = downloads + found[1] + (found[2] || "");
    link.download = "";
    document.body.appendChild(link);
    link.click();
    link.remove();
    return null;
  };
})();
</script>
"""


def page_words(key: str) -> str:
    """A text of the page itself, in Danish · English (a page has no language of its own)."""
    from triage.i18n import t

    return f"{t(key, 'da')} · {t(key, 'en')}"


def page_script(role: str, public_url: str) -> str:
    """PAGE_SCRIPT for a page of `role` served at `public_url`."""
    said = {"reopening": page_words("serve_page_reopening"), "quit": page_words("serve_page_quit")}
    return PAGE_SCRIPT % {
        "always": json.dumps(role in ALWAYS_REOPEN),
        "every": REOPEN_SECONDS * 1000,
        "downloads": json.dumps(f"{public_url.rstrip('/')}/download/"),
        "said": json.dumps(said, ensure_ascii=False).replace("</", "<\\/"),
    }


# A refused address, in the look of textual-serve's own page (dark, one box of text).
REFUSAL_PAGE = """<!DOCTYPE html>
<html lang="da"><head><meta charset="utf-8"><title>triage</title>
<style>
body { background: #0c181f; margin: 0; height: 100vh; display: flex; align-items: center;
  justify-content: center; font-family: menlo, "DejaVu Sans Mono", monospace; }
.intro { max-width: 720px; margin: 32px; padding: 24px 32px; font-size: 16px;
  color: rgba(255, 255, 255, 0.95); background-color: #12232d; }
</style></head>
<body><div class="intro">%s</div></body></html>
"""


def refusal_page(text: str) -> str:
    """The refusal `text` (Danish, a blank line, English) as REFUSAL_PAGE."""
    paragraphs = "".join(f"<p>{html.escape(part)}</p>" for part in text.split("\n\n"))
    return REFUSAL_PAGE % paragraphs


def shown_value(value: str) -> str:
    """A refused address value as said back to the page (short; it is the page's own)."""
    return value if len(value) <= 40 else value[:39] + "…"


def refusal(role: str, page: dict[str, str]) -> str:
    """Why a page's ?site=/?desk= is refused, in Danish then English (a page has no language
    yet): an option the role does not take, or a value that is no id, each named with its
    value."""
    from triage.i18n import t

    taken = [name for name in PAGE_OPTIONS if name in page and name not in PASSED[role]]
    if taken:
        said = [t("serve_page_option_not_taken", lang, option=taken[0]) for lang in ("da", "en")]
        return "\n\n".join(said)
    name = next(n for n in PAGE_OPTIONS if n in page and not PAGE_VALUE.fullmatch(page[n]))
    value = page[name]
    key = "serve_page_value_empty" if not value else "serve_page_value_no_id"
    said = [t(key, lang, option=name, value=shown_value(value)) for lang in ("da", "en")]
    return "\n\n".join(said)


def site_refusal(role: str, site: str, data: Path) -> str | None:
    """Why a page's ?site= cannot be served (an unknown site; for the kiosk and the board, a
    site without queues), in Danish then English; None when it can. Read from the data folder
    as it is now: a site added since triage serve started is served."""
    from triage.i18n import t
    from triage.load import load

    queues = role in ("kiosk", "board")
    loaded = load(data, check_cases=False, queues=queues)
    if not loaded.ok or loaded.flow is None:
        return None  # the page's triage says what is wrong with the data folder
    known = list(loaded.flow.sites.sites)
    if site not in known:
        key = "serve_page_site_unknown"
    elif queues and loaded.queues is not None and not loaded.queues.at(site):
        key, known = "serve_page_site_no_queues", [s for s in known if loaded.queues.at(s)]
    else:
        return None
    said = [t(key, lang, site=site, sites=", ".join(known)) for lang in ("da", "en")]
    return "\n\n".join(said)


class PortsInUse(Exception):
    """Ports other programs hold: every one of them, so that the next try is the last."""

    def __init__(self, busy: list[tuple[str, int]]) -> None:
        super().__init__(", ".join(f"{role}: port {port} in use" for role, port in busy))
        self.busy = busy


def port_of(role: str, base: int) -> int:
    return base + ROLES.index(role)


def command_line(role: str, options: dict[str, str | None], config: Path | None) -> str:
    """The shell command a browser of `role` starts: this Python's triage, with the options the
    serve command was given (never a password: the caller refuses one on the command line)."""
    words = [sys.executable, "-m", "triage", *COMMANDS[role]]
    if config is not None:
        words += ["--config", str(Path(config).resolve())]
    for name in PASSED[role]:
        value = options.get(name)
        if value:
            words += [f"--{name}", value]
    return shlex.join(words)


def plan(
    roles: list[str],
    options: dict[str, str | None],
    config: Path | None,
    host: str = DEFAULT_HOST,
    base_port: int = DEFAULT_PORT,
    public_url: str | None = None,
    data: Path | None = None,
) -> list[Served]:
    """The servers to start, one per role (each role once, in the order of ROLES)."""
    served = []
    for role in ROLES:
        if role not in roles:
            continue
        port = port_of(role, base_port)
        if public_url:  # behind the proxy: https://triage.example.dk/desk and so on
            address = f"{public_url.rstrip('/')}/{role}"
        else:
            # On every address of the machine: its name, which a browser elsewhere can open.
            shown = socket.gethostname() if host in ANY_ADDRESS else host
            shown = f"[{shown}]" if ":" in shown else shown
            address = f"http://{shown}:{port}"
        served.append(Served(role, port, address, dict(options), config, data, bool(public_url)))
    return served


def installed() -> bool:
    """Whether textual-serve (the optional extra `serve`) is installed."""
    try:
        import textual_serve.server  # noqa: F401
    except ImportError:
        return False
    return True


# The textual-serve versions triage serve works with (pyproject.toml pins the same), and what it
# uses of textual-serve beyond its documented `Server(...).serve()`: two private methods
# (`_make_app`, the aiohttp app that serve() would run, blocking; `_process_messages`, a page's
# messages to its app) and what its own websocket handler is made of.
WORKS_FROM, WORKS_BEFORE = "1.1.3", "2.0"
WORKS_WITH = f">={WORKS_FROM},<{WORKS_BEFORE.removesuffix('.0')}"  # as pyproject.toml says it
USED = (
    "server.Server._make_app",
    "server.Server._process_messages",
    "server.Server.handle_index",
    "server.Server.on_startup",
    "server.to_int",
    "server.log",
    "app_service.AppService.start",
    "app_service.AppService.stop",
)
USED_ON_A_SERVER = ("download_manager", "debug")  # set by Server.__init__
# What a page's AppService is made with (handle_websocket below).
APP_SERVICE_TAKES = ("write_bytes", "write_str", "close", "download_manager", "debug")


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textual-serve")
    except PackageNotFoundError:  # importable, but not installed as a package
        return "?"


def version_works(found: str) -> bool:
    """Whether a textual-serve version ("1.1.3", "1.2.0rc1", …) is within WORKS_WITH."""

    def numbers(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", text)[:3])

    return bool(numbers(found)) and numbers(WORKS_FROM) <= numbers(found) < numbers(WORKS_BEFORE)


def missing_parts() -> list[str]:
    """What triage serve uses that the installed textual-serve lacks (e.g.
    "Server._process_messages"); empty when all is there. Checked before any port opens: a
    missing part would otherwise fail only when a browser connects, inside its page."""
    import importlib

    missing = []
    for dotted in USED:
        module_name, *names = dotted.split(".")
        try:
            found: object = importlib.import_module(f"textual_serve.{module_name}")
        except ImportError:
            missing.append(dotted)
            continue
        for name in names:
            found = getattr(found, name, None)
        if found is None:
            missing.append(".".join(names))
    if not missing:
        import inspect

        from textual_serve.app_service import AppService
        from textual_serve.server import Server

        server = Server("triage")
        missing += [f"Server.{name}" for name in USED_ON_A_SERVER if not hasattr(server, name)]
        takes = inspect.signature(AppService).parameters
        missing += [f"AppService({name}=)" for name in APP_SERVICE_TAKES if name not in takes]
    return missing


async def _serve(
    served: list[Served], host: str, ready: Callable[[], None], stop: asyncio.Event
) -> None:
    from aiohttp import web
    from textual_serve.app_service import AppService
    from textual_serve.server import Server, log, to_int

    pages: set[web.WebSocketResponse] = set()  # every open page's connection

    class RoleServer(Server):
        """textual-serve's server for one role, whose pages may choose a site and desk."""

        def __init__(self, one: Served) -> None:
            super().__init__(one.command, host=host, port=one.port, public_url=one.public_url)
            self.title = f"triage {one.role}"
            self.served = one

        async def on_startup(self, app: web.Application) -> None:
            pass  # textual-serve's banner, once per role; the CLI says where each role is

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            choice = {k: v for k, v in request.query.items() if k in PAGE_OPTIONS}
            one = self.served
            refused = refusal(one.role, choice) if one.command_for(choice) is None else None
            if refused is None and "site" in choice and one.data is not None:
                refused = await asyncio.to_thread(site_refusal, one.role, choice["site"], one.data)
            if refused is not None:
                raise web.HTTPNotFound(text=refusal_page(refused), content_type="text/html")
            page = await super().handle_index(request)
            assert isinstance(page, web.Response) and page.text is not None
            # No page calls out to Google for a font (a citizen's visit is nobody else's).
            text = re.sub(r"<link[^>]*fonts\.googleapis\.com[^>]*>", "", page.text)
            base = one.public_url
            if host in ANY_ADDRESS and not one.proxied and HOST_HEADER.fullmatch(request.host):
                # On every address: back to the one the browser used (its name, an IP, …).
                base = f"http://{request.host}"
                text = text.replace(one.public_url, base)
                text = text.replace(
                    one.public_url.replace("http:", "ws:", 1), f"ws://{request.host}"
                )
            open_again = page_words("serve_page_open_again")
            for english, ours in PAGE_WORDS.items():  # what the page says when triage has quit
                text = text.replace(english, ours.replace("{open_again}", open_again))
            script = page_script(one.role, base)
            text = text.replace("<script src=", f"{script}<script src=", 1)
            if choice:  # the page's websocket carries it, since textual.js adds its own query
                text = text.replace('/ws"', f'/ws/{urlencode(choice)}"')
            page.text = text
            return page

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            """textual-serve's own, but for the page's command, and with the page's connection
            kept, so that stopping closes it and waits for the page's triage to quit."""
            command = self.served.command_for(dict(parse_qsl(request.match_info.get("choice", ""))))
            if command is None:
                raise web.HTTPNotFound()
            websocket = web.WebSocketResponse(heartbeat=15)
            width = to_int(request.query.get("width", "80"), 80)
            height = to_int(request.query.get("height", "24"), 24)
            service: AppService | None = None

            async def close() -> None:
                await websocket.close()

            pages.add(websocket)
            try:
                await websocket.prepare(request)
                service = AppService(
                    command,
                    write_bytes=websocket.send_bytes,
                    write_str=websocket.send_str,
                    close=close,
                    download_manager=self.download_manager,
                    debug=self.debug,
                )
                await service.start(width, height)
                await self._process_messages(websocket, service)
            except asyncio.CancelledError:
                await websocket.close()
            except Exception as error:  # one page's failure must not stop the others
                log.exception(error)
            finally:
                if service is not None:
                    await service.stop()  # tells the page's triage to quit, and waits for it
                pages.discard(websocket)
            return websocket

    runners: list[web.AppRunner] = []
    busy: list[tuple[str, int]] = []
    try:
        for one in served:
            server = RoleServer(one)
            # The aiohttp app of textual-serve's own serve(), which would run one server per
            # process and block; here all roles share this process's event loop. (Private:
            # missing_parts() checks it is there before anything starts.)
            app = await server._make_app()
            app.router.add_get("/ws/{choice}", server.handle_websocket)  # a page's own desk
            runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=SHUTDOWN_SECONDS)
            await runner.setup()
            runners.append(runner)
            try:
                await web.TCPSite(runner, host, one.port).start()
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                busy.append((one.role, one.port))  # the others are tried: all said at once
        if busy:
            raise PortsInUse(busy)
        ready()
        await stop.wait()
        # Closing a page's connection ends its handler, which has its triage quit.
        # The pages are told it is a restart: they wait for the server and reopen by themselves.
        closing = (page.close(code=RESTART_CODE) for page in list(pages))
        await asyncio.gather(*closing, return_exceptions=True)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()  # closes the browsers' connections, which ends their apps


def run(served: list[Served], host: str, ready: Callable[[], None]) -> None:
    """Serve until Ctrl+C or SIGTERM. Raises PortsInUse (nothing is left running then)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            # Windows has no such handlers: Ctrl+C raises KeyboardInterrupt there instead.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal_number, stop.set)
        await _serve(served, host, ready, stop)

    asyncio.run(main())
