"""What every hostile or broken upload produces: `python bench/hostile_report.py` prints a Markdown table.

Columns: the case (tests/hostile_corpus.py), its size on disk, the expected outcome, what
`python -m fer_core predict` said, and what the photo page showed (AppTest upload). A last
line gives the CLI's exit status and peak memory over the whole corpus. Set FER_MODEL to use
another model than the shipped one.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _cell(text: str, width: int = 110) -> str:
    text = str(text).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


def main() -> int:
    from streamlit.logger import set_log_level

    from tests.hostile_corpus import cli_outcomes, corpus, page_outcome

    set_log_level("error")  # not AppTest's "missing ScriptRunContext" notices
    cases = corpus()
    with tempfile.TemporaryDirectory() as folder:
        cli, run, peak_mb = cli_outcomes(cases, Path(folder))
    rows = []
    for name, case in cases.items():
        page = page_outcome(case)
        ok = "yes" if cli[name].meets(case) and page.meets(case) else "**NO**"
        label = f"{name} ({case.what})" if case.what else name
        rows.append((label, f"{len(case.data):,}", case.expected, cli[name], page, ok))
    print("| case | bytes | expected | CLI (`python -m fer_core predict`) | photo page | as expected |")
    print("|---|---:|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(_cell(value) for value in row) + " |")
    print(f"\nCLI over all {len(cases)} files at once: exit status {run.returncode}, peak RSS {peak_mb:.0f} MB.")
    return 0 if all(row[-1] == "yes" for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
