"""Where the project's files are, and how a path is shown to the people who read messages."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Where FER2013 is: the one setting every part reads (the command line's --data default, the dashboard's
# gallery of mistakes, the tests and the benches). A folder with train/<class>/ and test/<class>/, or fer2013.csv.
DATA_ENV = "FER_DATA"
DEFAULT_DATA = PROJECT_DIR / "fer2013"


def data_dir() -> Path:
    """FER2013's location: `$FER_DATA` when set, else `fer2013/` in the project folder."""
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)


def shown_path(path: str | Path) -> str:
    """`path` as messages show it: relative to the project folder when inside it, else its last two parts.

    Pages show these messages to visitors, who have no business knowing the server's folder layout;
    on the command line a path relative to the project is what the README's commands use.
    """
    path = Path(path)
    if not path.is_absolute():
        return path.as_posix()
    resolved = path.resolve()
    if resolved.is_relative_to(PROJECT_DIR):
        return resolved.relative_to(PROJECT_DIR).as_posix() or "."
    return "/".join(["…", *resolved.parts[-2:]])
