"""The app's `.streamlit/config.toml`, as Streamlit itself reads it when started from the project folder."""

import subprocess
import sys

from tests.conftest import ROOT


def effective_option(name: str) -> tuple[str, str]:
    """(the line that sets `name`, the comment saying where it was set) in `streamlit config show`."""
    shown = subprocess.run(
        [sys.executable, "-m", "streamlit", "config", "show"], cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout.splitlines()
    index = next(i for i, line in enumerate(shown) if line.startswith(f"{name} = "))
    return shown[index], shown[index - 1]


def test_the_file_watcher_is_off_so_a_venv_beside_the_app_floods_no_log():
    # The default watcher would put an inotify watch on every folder of the README's .venv.
    setting, source = effective_option("fileWatcherType")
    assert setting == 'fileWatcherType = "none"'
    assert source.endswith(str(ROOT / ".streamlit" / "config.toml"))
