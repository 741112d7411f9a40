"""bench/pool_detection.py sums the detection benchmark's saved runs, read in the format the bench prints."""

import contextlib
import io
import subprocess
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import detection_bench  # noqa: E402


def _log(tmp_path, name, split, found, faces, crops_right, right, phantom_frames, free_frames=300):
    """A run's output as detection_bench.main prints it, with the fer package's table after it."""
    rows = [
        ("detection rate", detection_bench._of(found, faces)),
        ("face-free frames with a phantom face", detection_bench._of(phantom_frames, free_frames)),
        ("phantom faces per face-free frame", "0.01"),
        ("crop accuracy (48x48 faces)", detection_bench._of(crops_right, faces)),
        ("end-to-end accuracy (missed = wrong)", detection_bench._of(right, faces)),
        ("end-to-end / crop accuracy", f"{right / crops_right:.3f}"),
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        print(f"split {split}, photo set-up: 300 face frames ({faces} faces), {free_frames} face-free frames")
        detection_bench._print_table(rows)
        print("\nthe fer package on the same frames")
        detection_bench._print_table([("detection rate", detection_bench._of(1, faces))])
    path = tmp_path / name
    path.write_text(out.getvalue())
    return path


def _pool(*logs):
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pool_detection.py"), *map(str, logs)], capture_output=True, text=True
    )


def test_runs_are_pooled_by_their_counts(tmp_path):
    first = _log(tmp_path, "h1.log", "holdout", found=711, faces=764, crops_right=554, right=518, phantom_frames=0)
    second = _log(tmp_path, "h2.log", "holdout", found=748, faces=801, crops_right=561, right=516, phantom_frames=1)
    result = _pool(first, second)
    assert result.returncode == 0, result.stderr
    pooled = result.stdout.split("\npooled\n")[1]
    assert "| detection rate | 93.2% (1459 of 1565) |" in pooled  # not the fer package's 1 of 764
    assert "| face-free frames with a phantom face | 0.2% (1 of 600) |" in pooled
    assert "| end-to-end / crop accuracy | 0.927 (1034 against 1115) |" in pooled
    assert "| phantom faces per face-free frame |" not in pooled  # no counts to pool
    assert f"| {second} | 93.4% (748 of 801) | 0.920 (516 against 561) | 0.3% (1 of 300) |" in result.stdout


def test_runs_of_different_splits_are_refused(tmp_path):
    first = _log(tmp_path, "h1.log", "holdout", found=711, faces=764, crops_right=554, right=518, phantom_frames=0)
    tune = _log(tmp_path, "t1.log", "tune", found=700, faces=764, crops_right=554, right=500, phantom_frames=0)
    result = _pool(first, tune)
    assert result.returncode == 2
    assert "different splits or set-ups" in result.stderr


def test_a_file_without_a_table_is_refused(tmp_path):
    stray = tmp_path / "stray.log"
    stray.write_text("face frames: 30/300, 4112 ms each, 19 min left\n")
    result = _pool(stray)
    assert result.returncode == 2
    assert "no detection benchmark table" in result.stderr
