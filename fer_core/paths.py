"""Where the project's files are, and how a path is shown to the people who read messages."""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


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
