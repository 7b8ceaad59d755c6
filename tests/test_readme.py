"""The README: its sample output is what dlbench prints today, its commands are the ones
CI runs, and its links lead somewhere."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def sample_script():
    spec = importlib.util.spec_from_file_location("readme_sample",
                                                  ROOT / "scripts" / "readme_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sample_output_is_what_a_run_prints_today():
    script = sample_script()
    assert script.current_block(README) == script.render(), (
        "the table or the headline changed: run python scripts/readme_sample.py --write")


def test_the_sample_is_on_the_first_screen():
    first_screen = README.splitlines()[:30]
    assert "$ dlbench run" in first_screen


def test_ci_runs_the_readme_install_and_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    development = README[README.index("## Development"):]
    block = re.search(r"```bash\n(.*?)```", development, re.S).group(1)
    for line in block.splitlines():
        if not line.startswith("python3 -m venv"):  # CI makes the venv in two lines
            assert line in ci.splitlines(), line
    quick = re.search(r"```bash\n(.*?)```", README[README.index("## Quick start"):], re.S)
    torch_line = quick.group(1).splitlines()[1]
    assert torch_line.startswith("pip install --no-deps torch==") and torch_line in ci


def test_links_lead_to_files_of_the_repository():
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text("utf-8")):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name}: {target}"


def test_no_page_or_comment_points_outside_the_repository():
    """DESIGN.md, FIELD.md and MACHINE.md are the team's notes, not the repository's."""
    outside = re.compile(r"\b(DESIGN|FIELD|MACHINE|STYLE)\.md\b")
    files = [p for pattern in ("*.md", "*.py", "*.toml", "*.sh", "*.yml")
             for p in ROOT.rglob(pattern)
             if ".venv" not in p.parts and ".git" not in p.parts]
    offenders = [str(p.relative_to(ROOT)) for p in files
                 if p.name != "test_readme.py" and outside.search(p.read_text("utf-8"))]
    assert offenders == []
