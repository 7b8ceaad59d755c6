"""Korean (and any later language) through the gettext catalog: every marked message is
translated, the compiled catalog is the one its source says, placeholders survive, the
language comes from --lang, DLBENCH_LANG or the locale, Korean tables keep their columns
aligned at 80 columns, and result files never hold a translation."""

import ast
import gettext
import json
import re
import shutil
import string
import subprocess
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

from dlbench import i18n, results, stats
from dlbench.cli import app
from dlbench.report import terminal
from tests.helpers import DATA

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/dlbench.po"))
HANGUL = re.compile("[\uac00-\ud7a3]")
# How many leading arguments are messages: ngettext's plural is no catalog key of its own.
MARKERS = {"_": 1, "N_": 1, "ngettext": 1}
runner = CliRunner()


def marked_messages() -> set[str]:
    """Every string the code marks for translation, read from the source with `ast`."""
    found = set()
    for path in (ROOT / "dlbench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in MARKERS):
                found |= {arg.value for arg in node.args[:MARKERS[node.func.id]]
                          if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return found


def compiled(po: Path) -> dict:
    with open(po.with_suffix(".mo"), "rb") as f:
        return gettext.GNUTranslations(f)._catalog


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_korean_is_a_language():
    assert CATALOGS and "ko" in i18n.languages()


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_every_marked_message_is_translated(po):
    catalog = compiled(po)
    translated = {key[0] if isinstance(key, tuple) else key for key in catalog} - {""}
    missing = sorted(marked_messages() - translated)
    assert not missing, (f"no {po.parent.parent.name} translation (add it to {po.name}, then "
                         f"run scripts/translations.sh): {missing}")


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_translations_keep_every_placeholder(po):
    for key, text in compiled(po).items():
        source = key[0] if isinstance(key, tuple) else key
        if source:
            assert fields(text) == fields(source), (source, text)


@pytest.mark.parametrize("po", CATALOGS, ids=lambda p: p.parent.parent.name)
def test_the_compiled_catalog_is_its_source(po, tmp_path):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("msgfmt (GNU gettext) is not installed")
    fresh = tmp_path / "dlbench.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(po)], check=True)
    with open(fresh, "rb") as f:
        assert gettext.GNUTranslations(f)._catalog == compiled(po), \
            f"{po.with_suffix('.mo')} is stale: run scripts/translations.sh"


def test_the_catalog_ships_in_the_package():
    """Hatch puts every file of dlbench/ that git does not ignore into the wheel."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for po in CATALOGS:
        for path in (po, po.with_suffix(".mo")):
            ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT)
            assert ignored.returncode == 1, f"{path} is ignored by git, so left out of a wheel"


def test_every_quality_warning_is_explained_in_korean():
    i18n.use("ko")
    for code in stats.QualityWarning:
        assert HANGUL.search(stats.explain(code)), code


def test_the_language_comes_from_the_option_the_variable_or_the_locale(monkeypatch):
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(i18n.ENV_VAR)
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    i18n.use()
    assert i18n._("size") == "크기" and i18n.current() == "ko"
    monkeypatch.setenv(i18n.ENV_VAR, "en")  # the variable wins over the locale
    i18n.use()
    assert i18n._("size") == "size"
    i18n.use("ko")  # and --lang over the variable
    assert i18n._("size") == "크기"
    monkeypatch.setenv(i18n.ENV_VAR, "fr")  # no catalog: English
    i18n.use()
    assert i18n._("size") == "size"


def test_list_speaks_the_language_of_dlbench_lang():
    korean = runner.invoke(app, ["list"], env={i18n.ENV_VAR: "ko", "COLUMNS": "80"})
    assert korean.exit_code == 0 and "워크로드" in korean.stdout
    assert "matmul" in korean.stdout  # names stay as they are
    english = runner.invoke(app, ["list", "--lang", "en"], env={i18n.ENV_VAR: "ko"})
    assert "워크로드" not in english.stdout


def edges(line: str) -> set[int]:
    """The display columns where each cell of a table line ends (cells are separated by
    two or more spaces; a cell may hold single spaces: "1.18× n.s.")."""
    return {cell_len(line[:m.end()]) for m in re.finditer(r"\S+(?: \S+)*", line)}


def test_the_default_run_in_korean_keeps_its_columns_at_80():
    """The committed default run (tests/data/run-cpu.json), its table and headline in
    Korean at 80 columns: Hangul is two cells wide, and every column's right edge stays
    where its header's is."""
    i18n.use("ko")
    doc = results.load(DATA / "run-cpu.json")
    console = Console(width=80, record=True, color_system=None, force_terminal=False)
    console.print(terminal.render_run(doc.results, "numpy-cpu"))
    lines = console.export_text().splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    header = next(i for i, line in enumerate(lines) if line.startswith("크기"))
    heading_edges = edges(lines[header - 1]) | edges(lines[header])
    measured = [line for line in lines[header + 2:] if re.match(r"^(\d+|기하 평균) ", line)]
    assert len(measured) >= 10
    for line in measured:
        # The label is left-aligned; every other cell ends at a column's right edge.
        assert edges(line) - {min(edges(line))} <= heading_edges, (line, heading_edges)
    short = lines.index("요약")
    assert HANGUL.search(lines[short + 1]) and lines[short + 1].startswith("비교한 열:")
    assert any(line.startswith("가장 빠른 열: ") for line in lines[short:])


@pytest.mark.slow
def test_a_korean_run_ends_in_korean_and_saves_the_same_file(tmp_path):
    args = ["run", "--backend", "numpy,torch", "--workload", "matmul", "--size", "64",
            "--dtype", "float32", "--min-time", "0.05", "--max-time", "0.2"]
    pytest.importorskip("torch")
    korean = runner.invoke(app, [*args, "--lang", "ko", "-o", str(tmp_path / "ko.json")],
                           env={"COLUMNS": "80"})
    assert korean.exit_code == 0, korean.output
    out = korean.stdout.rstrip().splitlines()
    short = out.index("요약")
    assert out[short + 1].startswith("비교한 열: numpy-cpu (기준)")
    assert "저장함: " in korean.stderr
    saved = (tmp_path / "ko.json").read_text(encoding="utf-8")
    assert not HANGUL.search(saved)
    english = json.loads(saved)
    assert english["results"][0]["id"].startswith("matmul/")
