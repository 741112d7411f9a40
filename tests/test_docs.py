"""The README and the records in docs/: what they link to is there, and the README stays a short,
runnable introduction (its commands exist, its test command is CI's, no measurement history)."""

import re

import pytest

from tests.conftest import ROOT

DOCUMENTS = [
    "README.md",
    "bench/results.md",
    *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md")),
]
README = (ROOT / "README.md").read_text()


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path) -> set[str]:
    return {_anchor(heading) for heading in re.findall(r"^#{1,6} (.+)$", path.read_text(), re.MULTILINE)}


def _commands(text: str) -> list[str]:
    """The lines of a document's ```bash blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", text, re.DOTALL)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip()]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_link_to_a_file_or_a_heading_of_the_project_is_there(document):
    path = ROOT / document
    text = path.read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    missing = []
    for target in targets:
        if re.match(r"[a-z]+:", target):  # a web address
            continue
        file, _, anchor = target.partition("#")
        linked = path if not file else path.parent / file
        if not linked.exists():
            missing.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            missing.append(target)
    assert targets and missing == []


def test_the_readme_is_read_in_ten_minutes():
    assert len(README.split()) <= 2500


def test_the_readmes_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci.replace(" -q ", " ") in _commands(README)
    assert ".venv/bin/pip install -r requirements.txt && .venv/bin/streamlit run app.py" in README


def test_every_command_the_readme_shows_exists():
    cli = (ROOT / "fer_core" / "cli.py").read_text()
    subcommands = set(re.findall(r"add_parser\(\s*\"([\w-]+)\"", cli))
    text = README + "\n".join(re.findall(r"`([^`]+)`", README))
    assert set(re.findall(r"python -m fer_core (\w[\w-]*)", text)) <= subcommands
    modules = re.findall(r"python -m (fer_core(?:\.\w+)+)", text)
    assert [m for m in modules if not (ROOT / (m.replace(".", "/") + ".py")).exists()] == []
    scripts = re.findall(r"python ((?:bench|docs|deploy)/\w+\.py)", text)
    assert scripts and [s for s in scripts if not (ROOT / s).exists()] == []


def test_the_readme_carries_no_commit_hashes():
    assert re.findall(r"`[0-9a-f]{7,40}`", README) == []


def test_the_architecture_names_every_subpackage_and_top_level_module():
    text = (ROOT / "docs" / "architecture.md").read_text()
    package = ROOT / "fer_core"
    subpackages = {path.name for path in package.iterdir() if (path / "__init__.py").exists()}
    modules = {path.stem for path in package.glob("*.py")} - {"__init__", "__main__"}
    assert {name for name in subpackages if f"`fer_core/{name}/`" not in text} == set()
    assert {name for name in modules if f"`{name}`" not in text} == set()
