"""The README and the records in docs/: what they link to is there."""

import re

import pytest

from tests.conftest import ROOT

DOCUMENTS = ["README.md", *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md"))]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_link_to_a_file_or_a_heading_of_the_project_is_there(document):
    path = ROOT / document
    text = path.read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    anchors = {_anchor(heading) for heading in re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)}
    missing = []
    for target in targets:
        if re.match(r"[a-z]+:", target):  # a web address
            continue
        if target.startswith("#") and target[1:] not in anchors:
            missing.append(target)
        elif not target.startswith("#") and not (path.parent / target.split("#")[0]).exists():
            missing.append(target)
    assert targets and missing == []
