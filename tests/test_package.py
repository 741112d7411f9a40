"""The fer_core package itself: what importing it guarantees."""

import subprocess
import sys

from tests.conftest import ROOT


def test_the_live_pages_webrtc_can_be_imported_after_the_model_is_loaded():
    # The photo page loads TensorFlow; the live page then imports streamlit_webrtc (aiortc, pylibsrtp).
    # In that order pylibsrtp used to kill the server with a segmentation fault.
    code = "import fer_core.model.classifier as c; c.import_tensorflow(); import streamlit_webrtc; print('alive')"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and run.stdout == "alive\n", (run.returncode, run.stderr[-2000:])


def test_a_script_that_loads_tensorflow_first_can_still_import_fer_core():
    code = "import tensorflow; import fer_core.pipeline; print('alive')"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and run.stdout == "alive\n", (run.returncode, run.stderr[-2000:])


def test_the_readmes_layout_names_every_fer_core_module():
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `fer_core/` |"))
    modules = {path.stem for path in (ROOT / "fer_core").glob("*.py")} - {"__init__", "__main__"}
    assert {name for name in modules if f"`{name}`" not in row} == set()
