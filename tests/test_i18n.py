"""The text catalogs (triage/locale/*.toml): both languages alike, every key the code uses
present, and the word for a count chosen right."""

from __future__ import annotations

import ast
import re
import string
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from triage import i18n
from triage.i18n import CATALOG, DA, EN, LANGUAGES, t
from triage.overview import PERIODS
from triage.sites import KINDS, SPECIAL_DESTINATIONS, UNCONFIRMABLE
from triage.visits import CHANNELS

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*(ROOT / "triage").rglob("*.py"), *(ROOT / "screens").rglob("*.py")])
KEY = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
FIELDS = string.Formatter()


def fields(text: str) -> list[tuple[str, str]]:
    """(name, format spec) of each placeholder in text."""
    return [(name, spec or "") for _, name, spec, _ in FIELDS.parse(text) if name is not None]


# --- both languages alike ----------------------------------------------------------------------


def test_catalogs_are_flat_tables_of_texts():
    for lang in LANGUAGES:
        raw = tomllib.loads((i18n.LOCALE_DIR / f"{lang}.toml").read_text(encoding="utf-8"))
        not_text = {key: value for key, value in raw.items() if not isinstance(value, str)}
        assert not not_text, f"{lang}.toml: every value must be a text in quotes: {not_text}"
        assert all(KEY.fullmatch(key) for key in raw), f"{lang}.toml: keys are a-z, 0-9 and _"


def test_both_languages_have_the_same_keys_in_the_same_order():
    assert set(DA) - set(EN) == set(), "in da.toml, missing in en.toml"
    assert set(EN) - set(DA) == set(), "in en.toml, missing in da.toml"
    # The same order keeps the two files side by side, line for line.
    assert list(DA) == list(EN)


def test_each_key_has_the_same_placeholders_in_both_languages():
    for key in DA:
        da = {name for name, _ in fields(DA[key])}
        en = {name for name, _ in fields(EN[key])}
        assert da == en, f"{key}: da has {sorted(da)}, en has {sorted(en)}"


def test_counted_words_have_two_forms_and_a_number_beside_them():
    for lang, texts in CATALOG.items():
        for key, text in texts.items():
            plain = {name for name, spec in fields(text) if not spec}
            for name, spec in fields(text):
                if "|" not in spec:
                    continue
                forms = spec.split("|")
                assert len(forms) == 2 and all(forms), f"{lang} {key}: {{{name}:{spec}}}"
                assert name in plain, f"{lang} {key}: the count {{{name}}} itself is not shown"


# --- every key the code uses is there -----------------------------------------------------------

# Keys put together at run time, and the values the code puts in. A new f"prefix_{x}" key in
# the code fails test_every_key_built_at_run_time_is_listed until it is listed here.
BUILT_AT_RUN_TIME: dict[str, tuple[str, ...]] = {
    "weekday_*": tuple(str(day) for day in range(7)),
    "kind_*": (*KINDS, "municipality"),  # stats.referral_kind's kinds
    "channel_*": CHANNELS,
    "period_*": (*PERIODS, "custom"),
    "sup_alert_*": ("today", "hour"),
    "search_*": ("outcome", "question"),  # a search hit's kind
    "expd_format_*": ("0", "1", "2", "3"),  # the export dialog's radio buttons
    "tree_*": SPECIAL_DESTINATIONS,
    "field_*": UNCONFIRMABLE,
    "type_*": (
        "id",
        "text",
        "int",
        "number",
        "list",
        "table",
        "id_list",
        "bool",
        "texts",
        "destination",
        "cases",
        "answers",
        "searches",
    ),
    "why_os_*": ("permission", "read_only", "not_folder", "is_folder", "missing", "full"),
    "why_db_*": (
        "corrupt",
        "not_db",
        "read_only",
        "locked",
        "full",
        "io",
        "cannot_open",
        "denied",
        "gone",
        "login",
        "no_database",
        "down",
    ),
    "write_advice_*": (
        "permission",
        "read_only",
        "not_folder",
        "is_folder",
        "missing",
        "full",
        "other",
    ),
    "spool_why_*": (
        "torn",
        "unreadable",
        "not_an_entry",
        "missing_field",
        "bad_field",
        "bad_desk",
        "refused",
        "void_unknown",
    ),
    # A date option that cannot be read: DayError(f"{error.code}_option") in the CLI.
    "*_option": ("bad_date", "date_out_of_range", "bad_moment"),
    # Tables and columns of the exports: their keys are read from Table("…") and Column("…").
    "exp_table_*": (),
    "exp_file_*": (),
    "exp_col_*": (),
    # A command's help in the palette is optional: the palette asks the catalog first.
    "help_*": (),
}


def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in SOURCES]


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _pattern(node: ast.expr) -> str | None:
    """f"weekday_{n}" or "kind_" + k as weekday_* / kind_*; None for anything else."""
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pattern(node.left), _pattern(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return "*"


class Keys:
    """The keys a module uses, as far as its source shows them: t("key"), t(a if c else b),
    t(name) where name was given a literal key in the same function (or loops over pairs
    whose first part is one), error codes (SomeError("code"), report.error(file, node,
    "code"), Problem(..., "code")), a screen's (key, {params}) messages, the ids of shown
    bindings, and the export's Table("…") and Column("…")."""

    def __init__(self, tree: ast.Module) -> None:
        self.functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
        self.literal: set[str] = set()
        self.patterns: set[str] = set()
        for scope in [tree, *self.functions.values()]:
            for node in ast.walk(scope):
                self._visit(node, scope)

    def _visit(self, node: ast.AST, scope: ast.AST) -> None:
        if (
            isinstance(node, ast.Tuple)
            and len(node.elts) == 2
            and isinstance(node.elts[1], ast.Dict)
        ):
            self.literal |= self.values(node.elts[0], scope)  # ("undo_done", {...})
        if not isinstance(node, ast.Call):
            return
        name, args = _name(node.func), node.args
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        if name == "t" and args:
            self.literal |= self.values(args[0], scope)
            built = [args[0]]
            if isinstance(args[0], ast.Name):  # help_key = f"help_{binding.id}"; t(help_key)
                built = self._assignments(args[0].id, scope)
            for value in built:
                pattern = _pattern(value)
                if pattern and pattern != "*" and "*" in pattern:
                    self.patterns.add(pattern)
        code_at = {"error": 2, "warning": 2, "Problem": 3}.get(name, 0)
        if name.endswith("Error") or code_at:
            if len(args) > code_at:
                self.literal |= self._constant(args[code_at])
            if "code" in keywords:
                self.literal |= self._constant(keywords["code"])
            code = _pattern(args[code_at]) if len(args) > code_at else None
            if code and code != "*" and "*" in code and KEY.fullmatch(code.replace("*", "x")):
                self.patterns.add(code)  # DayError(f"{error.code}_option", …)
        hidden = isinstance(keywords.get("show"), ast.Constant) and not keywords["show"].value
        if name == "Binding" and "id" in keywords and not hidden:  # a hidden key has no label
            self.literal |= self._constant(keywords["id"])
        if name in ("Table", "Column") and args:
            prefixes = ("exp_table_", "exp_file_") if name == "Table" else ("exp_col_",)
            for value in self._constant(args[0]):
                self.literal |= {prefix + value for prefix in prefixes}

    @staticmethod
    def _constant(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value} if KEY.fullmatch(node.value) else set()
        return set()

    @staticmethod
    def _assignments(name: str, scope: ast.AST) -> list[ast.expr]:
        """What `name = …` gives name anywhere in scope."""
        return [
            node.value
            for node in ast.walk(scope)
            if isinstance(node, ast.Assign)
            and any(isinstance(target, ast.Name) and target.id == name for target in node.targets)
        ]

    def _returns(self, call: ast.expr) -> tuple[list[ast.expr], ast.AST] | None:
        """What a call of a function of this module can return, and that function."""
        if not isinstance(call, ast.Call) or _name(call.func) not in self.functions:
            return None
        function = self.functions[_name(call.func)]
        found = [r.value for r in ast.walk(function) if isinstance(r, ast.Return) and r.value]
        return found, function

    def values(self, node: ast.expr, scope: ast.AST, depth: int = 0) -> set[str]:
        """The literal keys node can be."""
        found: set[str] = set()
        if depth > 5:
            return found
        if isinstance(node, ast.IfExp):
            for branch in (node.body, node.orelse):
                found |= self.values(branch, scope, depth + 1)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Tuple):
            for element in node.value.elts:  # ("closed_opens_today", "…")[days]
                found |= self.values(element, scope, depth + 1)
        elif isinstance(node, ast.Name):
            for value in self._assignments(node.id, scope):
                found |= self.values(value, scope, depth + 1)
            for loop in ast.walk(scope):  # for heading, group in (("heading_errors", …), …)
                if isinstance(loop, ast.For | ast.comprehension) and isinstance(
                    loop.target, ast.Tuple
                ):
                    names = [e.id if isinstance(e, ast.Name) else "" for e in loop.target.elts]
                    if node.id in names:
                        found |= self._members(loop.iter, names.index(node.id), scope, depth + 1)
        elif returned := self._returns(node):
            for value in returned[0]:
                found |= self.values(value, returned[1], depth + 1)
        else:
            found = self._constant(node)
        return found

    def _members(self, node: ast.expr, index: int, scope: ast.AST, depth: int) -> set[str]:
        """The literal keys at index in the pairs that node, a list of pairs, holds."""
        found: set[str] = set()
        if depth > 5:
            return found
        if isinstance(node, ast.Name):
            for value in self._assignments(node.id, scope):
                found |= self._members(value, index, scope, depth + 1)
        elif returned := self._returns(node):
            for value in returned[0]:
                found |= self._members(value, index, returned[1], depth + 1)
        elif isinstance(node, ast.List | ast.Tuple):
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    found |= self._members(element.value, index, scope, depth + 1)
                elif isinstance(element, ast.Tuple) and len(element.elts) > index:
                    found |= self.values(element.elts[index], scope, depth + 1)
        return found


@pytest.fixture(scope="module")
def used() -> dict[Path, Keys]:
    return {path: Keys(tree) for path, tree in _trees()}


def test_every_key_the_code_uses_exists(used):
    missing = {
        f"{path.relative_to(ROOT)}: {key}"
        for path, keys in used.items()
        for key in keys.literal
        if key not in DA
    }
    assert not missing, "keys the code uses that da.toml lacks:\n" + "\n".join(sorted(missing))


def test_the_scan_finds_keys_in_each_way_the_code_names_them(used):
    """The scan is only as good as what it finds: one key from each way of naming a key."""
    every = set().union(*(keys.literal for keys in used.values()))
    ways = {
        't("key_quit", …)': {"key_quit"},
        "t(a if c else b, …)": {"db_empty_file", "db_not_sqlite"},
        "key = a if c else b; t(key, …)": {"purge_dry_run", "purge_done"},
        'for heading, group in (("heading_errors", …), …)': {"heading_errors"},
        "lines = [*_about_period(…), …]; t(k) for k, v in lines": {"exp_about_period"},
        "trouble = _database_trouble(error); t(trouble, …)": {"db_failed"},
        'DbError("db_newer", …)': {"db_newer"},
        'PostcodeError("postcode_unknown", …)': {"postcode_unknown"},
        'report.error(file, node, "dead_end")': {"dead_end"},
        'Problem("error", name, name, "toml_syntax", …)': {"toml_syntax"},
        'self.notice = [("undo_nothing", {…})]': {"undo_nothing"},
        'Binding(…, id="key_back")': {"key_back"},
        'Table("staffing", [Column("arrivals_per_hour"), …])': {
            "exp_table_staffing",
            "exp_file_staffing",
            "exp_col_arrivals_per_hour",
        },
    }
    for way, keys in ways.items():
        assert keys <= every, f"the scan misses {way}"


def test_every_key_built_at_run_time_is_listed(used):
    found = {pattern for keys in used.values() for pattern in keys.patterns}
    unlisted = found - set(BUILT_AT_RUN_TIME)
    assert not unlisted, f"list these in BUILT_AT_RUN_TIME with the values they take: {unlisted}"
    assert set(BUILT_AT_RUN_TIME) <= found, "listed, but no longer in the code"


def test_every_key_in_the_catalog_is_used(used):
    """A key no code uses is a text nobody sees, and one a translator keeps up for nothing:
    used means named literally in triage/ or screens/ (any string in the code, as the scan
    above or as a plain value), or built at run time from a listed pattern and value."""
    strings = {
        node.value
        for _, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    literal = set().union(*(keys.literal for keys in used.values()))
    built = {p.replace("*", v) for p, values in BUILT_AT_RUN_TIME.items() for v in values}
    read_by_prefix = [p.removesuffix("*") for p, values in BUILT_AT_RUN_TIME.items() if not values]
    unused = [
        key
        for key in DA
        if key not in strings | literal | built and not key.startswith(tuple(read_by_prefix))
    ]
    assert not unused, "keys no code uses (remove them from da.toml and en.toml): " + ", ".join(
        unused
    )


@pytest.mark.parametrize("pattern", sorted(p for p, v in BUILT_AT_RUN_TIME.items() if v))
def test_keys_built_at_run_time_exist(pattern):
    missing = [
        pattern.replace("*", value)
        for value in BUILT_AT_RUN_TIME[pattern]
        if pattern.replace("*", value) not in DA
    ]
    assert not missing


# --- the word for a count --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "lang", "params", "texts"),
    [
        (
            "spool_status",
            "da",
            {"visits": 1, "folder": "spool"},
            [
                "1 besøg og 0 annulleringer venter i spool.",
                "1 besøg og 1 annullering venter i spool.",
                "1 besøg og 2 annulleringer venter i spool.",
            ],
        ),
        (
            "repair_rollup",
            "da",
            {"table": "visit_daily", "source": "besøgene"},
            [
                "Rettet: visit_daily: 0 rækker bygget igen ud fra besøgene.",
                "Rettet: visit_daily: 1 række bygget igen ud fra besøgene.",
                "Rettet: visit_daily: 2 rækker bygget igen ud fra besøgene.",
            ],
        ),
        (
            "exp_done_visits",
            "en",
            {"path": "v.csv"},
            ["Wrote 0 visits to v.csv.", "Wrote 1 visit to v.csv.", "Wrote 2 visits to v.csv."],
        ),
        (
            "spool_set_aside",
            "en",
            {"path": "q"},
            [
                "0 entries could never be stored and were set aside in q:",
                "1 entry could never be stored and was set aside in q:",
                "2 entries could never be stored and were set aside in q:",
            ],
        ),
        (
            "check_figures_only",
            "da",
            {},
            [
                "0 dage har kun tal og ingen besøgsdetaljer; tallene står, som de er.",
                "1 dag har kun tal og ingen besøgsdetaljer; tallene står, som de er.",
                "2 dage har kun tal og ingen besøgsdetaljer; tallene står, som de er.",
            ],
        ),
    ],
)
def test_the_word_follows_the_count_for_0_1_and_2(key, lang, params, texts):
    counted = next(name for name, spec in fields(CATALOG[lang][key]) if "|" in spec)
    assert [t(key, lang, **params, **{counted: n}) for n in (0, 1, 2)] == texts


def test_a_count_already_written_for_people_picks_its_word_too():
    """Counts often come as count(n, lang): "1", "2", "1.000"."""
    assert t("sup_demo", "en", n="1") == "DEMO DATA: 1 demo visit"
    assert t("sup_demo", "en", n="1.000") == "DEMO DATA: 1.000 demo visits"
    dates = {"start": "a", "end": "b", "previous_start": "c", "previous_end": "d"}
    assert t("sum_period_dated", "en", **dates, total="1", previous="0", change="–") == (
        "Period a to b inclusive: 1 visit; previous period (c to d inclusive): 0 (–)."
    )


def _by_hand(text: str, params: dict[str, object]) -> str:
    """What t() should give, worked out another way: the forms replaced first, then format."""

    def form(match: re.Match[str]) -> str:
        return match[2] if params[match[1]] == 1 else match[3]

    return re.sub(r"\{(\w+):([^{}|]*)\|([^{}]*)\}", form, text).format(**params)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_counted_text_reads_right_for_0_1_and_2(lang):
    for key, text in CATALOG[lang].items():
        counted = {name for name, spec in fields(text) if "|" in spec}
        if not counted:
            continue
        for n in (0, 1, 2):
            params: dict[str, object] = {name: f"<{name}>" for name, _ in fields(text)}
            params.update({name: n for name in counted})
            shown = t(key, lang, **params)
            assert shown == _by_hand(text, params), key
            assert "|" not in shown and "{" not in shown, key


# Plural words that must not follow a bare count: "{rows} rækker" must be written with a form.
PLURALS = {
    "da": "rækker|dage|registreringer|annulleringer|annullerede|filer|celler|advarsler|minutter|"
    "søgninger|flere",
    "en": "visits|rows|days|entries|cancellations|errors|warnings|cells|files|searches|minutes|"
    "questions|outcomes|cases",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_count_that_can_be_1_is_followed_by_a_bare_plural(lang):
    """ "{rows} rækker" reads "1 rækker"; it must be "{rows} {rows:række|rækker}". The limits
    named below are never 1 (at most {max}, Excel's {most} rows, a walk {length} long), and a
    {date} or {db} is no count."""
    never_one = {"max", "most", "length", "date", "db"}
    bare = re.compile(rf"\{{(\w+)\}} (?:\S+ )?({PLURALS[lang]})\b")
    found = [
        (key, match[0])
        for key, text in CATALOG[lang].items()
        for match in bare.finditer(text)
        if match[1] not in never_one
    ]
    assert not found


# --- reading the catalogs ------------------------------------------------------------------------


def test_unknown_keys_and_languages_never_crash():
    assert t("no_such_key_anywhere", "en") == "no_such_key_anywhere"
    assert t("key_quit", "fr") == DA["key_quit"]
    assert t("file_missing", "da") == DA["file_missing"]  # a placeholder missing: the template


def test_a_catalog_is_read_only_when_its_language_is_needed():
    """Start-up: importing reads no catalog, and a Danish desk never reads the English one."""
    probe = (
        "import triage.i18n as i; import triage.cli, triage.app; "
        "before = i._load.cache_info().currsize; i.t('key_quit', 'da'); "
        "print(before, i._load.cache_info().currsize)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.stdout.split() == ["0", "1"], done.stderr


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_quick_catalog_reader_reads_what_tomllib_reads(lang):
    """The desk reads its catalog line by line at start-up: the same texts as a TOML parser."""
    text = (i18n.LOCALE_DIR / f"{lang}.toml").read_text(encoding="utf-8")
    assert i18n._read_catalog(text) == tomllib.loads(text)
    assert any("\\" in line for line in text.splitlines())  # its escapes are read too


@given(
    st.lists(
        st.text(alphabet="ab_ =\"'\\#\tnx\r", max_size=14).filter(lambda s: "\n" not in s),
        max_size=4,
    )
)
@example(['a = "x"', "b = 'y'", "# c", ""])
@example(['a = "x \\"q\\" \\\\ y"'])
@example(['a = "x" # c'])
@example(['a = "\\n\\t"'])
@example(['a = "x"', 'a = "y"'])
@example(['a = """x"""'])
@example(["a = 'x'\r"])
def test_a_catalog_line_the_quick_reader_cannot_read_goes_to_tomllib(lines):
    """Whatever a line holds, the quick reader gives tomllib's texts, or None (tomllib reads)."""
    text = "\n".join(lines)
    quick = i18n._read_catalog(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert quick is None
        return
    assert quick is None or quick == expected


def test_the_catalogs_ship_inside_the_package():
    """The wheel carries the package folder whole, so the catalogs must live inside it."""
    assert i18n.LOCALE_DIR.parent == Path(i18n.__file__).resolve().parent
    assert sorted(p.name for p in i18n.LOCALE_DIR.glob("*.toml")) == ["da.toml", "en.toml"]


# --- as a person sees it: the installed command ---------------------------------------------------


def test_the_command_line_says_1_visit_and_1_cancellation(tmp_path, flow):
    """One visit and its cancellation wait in the spool, then reach a real SQLite file."""
    from datetime import UTC, datetime

    from tests.test_cli import run
    from triage.db.store import Store
    from triage.visits import visit_from_result
    from triage.walk import route

    db, spool = tmp_path / "later" / "one.db", tmp_path / "spool"
    down = Store(str(db), desk="d1", spool_dir=spool)  # its folder does not exist yet
    visit = visit_from_result(
        route(flow, ["1", "1"]),
        "jc-skelbaek",
        "d1",
        "in_person",
        3.0,
        datetime(2025, 6, 2, 9, 0, tzinfo=UTC),
    )
    assert down.record(visit) == "spooled"
    assert down.void(visit["visit_id"], "d1", datetime(2025, 6, 2, 9, 1, tzinfo=UTC)) == "spooled"

    said = {
        lang: run("spool", "status", "--spool-dir", str(spool), "--lang", lang, cwd=tmp_path).stdout
        for lang in ("da", "en")
    }
    assert "1 besøg og 1 annullering venter" in said["da"]
    assert "1 visit and 1 cancellation wait" in said["en"]

    db.parent.mkdir()
    assert (
        run("spool", "flush", "--db", str(db), "--spool-dir", str(spool), cwd=tmp_path).returncode
        == 0
    )
    checked = run("check", "--db", str(db), "--spool-dir", str(spool), "--lang", "en", cwd=tmp_path)
    assert "; 1 visit, 1 of them cancelled" in checked.stdout, checked.stdout + checked.stderr
    purged = run(
        "purge",
        "--before",
        "2026-01-01",
        "--dry-run",
        "--db",
        str(db),
        "--lang",
        "en",
        cwd=tmp_path,
    )
    assert "the detail of 0 visits and 1 cancelled visit before" in purged.stdout, purged.stderr
