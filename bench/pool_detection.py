"""Pool saved runs of the detection benchmark: every count summed, every share taken of the sums.

    python bench/detection_bench.py --split holdout --seed 1 --frames 300 > h1.log
    python bench/detection_bench.py --split holdout --seed 2 --frames 300 > h2.log
    python bench/pool_detection.py h1.log h2.log

One sample of frames moves the end-to-end figure by a few points either way; pooled runs on several
seeds say what the detector does on the kind of frame. Each run is listed with its own detection rate,
end-to-end / crop accuracy and face-free frames with a phantom, then the pooled table. Only the
pipeline's table is read (not the `fer` package's), and runs of different splits or set-ups are refused.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

# "| detection rate | 93.1% (711 of 764) |"
ROW = re.compile(r"^\| (?P<name>[^|]+?) \| [\d.]+% \((?P<part>\d+) of (?P<whole>\d+)\) \|$")
HEADER = re.compile(r"^split (?P<split>\S+), (?P<setup>\S+) set-up: ")
END_TO_END, CROP = "end-to-end accuracy (missed = wrong)", "crop accuracy (48x48 faces)"
DETECTION, PHANTOM = "detection rate", "face-free frames with a phantom face"


def read_run(text: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """The run's split and set-up ("holdout, photo") and its counted rows: measure -> (part, whole)."""
    header, rows = None, {}
    for line in text.splitlines():
        if match := HEADER.match(line):
            header = f"{match['split']}, {match['setup']}"
        elif line.startswith("the fer package"):
            break
        elif header and (match := ROW.match(line)):
            rows[match["name"]] = (int(match["part"]), int(match["whole"]))
    if header is None or DETECTION not in rows:
        raise ValueError("no detection benchmark table in it")
    return header, rows


def pool(runs: list[dict[str, tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """The rows every run has, their counts summed."""
    names = [name for name in runs[0] if all(name in run for run in runs)]
    return {name: (sum(run[name][0] for run in runs), sum(run[name][1] for run in runs)) for name in names}


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}% ({part} of {whole})" if whole else "- (0 of 0)"


def ratio(rows: dict[str, tuple[int, int]]) -> str:
    """End-to-end over crop accuracy, from the counts (the faces are the same, so the wholes cancel)."""
    if END_TO_END not in rows or not rows[CROP][0]:
        return "-"
    return f"{rows[END_TO_END][0] / rows[CROP][0]:.3f} ({rows[END_TO_END][0]} against {rows[CROP][0]})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", type=Path, nargs="+", help="saved outputs of bench/detection_bench.py")
    args = parser.parse_args()
    headers, runs = [], []
    for path in args.logs:
        try:
            header, rows = read_run(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            parser.error(f"{path}: {error}")
        headers.append(header)
        runs.append(rows)
    if len(set(headers)) > 1:
        runs_seen = "; ".join(f"{path}: {header}" for path, header in zip(args.logs, headers))
        parser.error(f"runs of different splits or set-ups: {runs_seen}")
    print(f"{len(runs)} runs, split {headers[0]} set-up")
    print("| run | detection rate | end-to-end / crop accuracy | face-free frames with a phantom face |")
    print("|---|---:|---:|---:|")
    for path, rows in zip(args.logs, runs):
        phantom = share(*rows[PHANTOM]) if PHANTOM in rows else "-"
        print(f"| {path} | {share(*rows[DETECTION])} | {ratio(rows)} | {phantom} |")
    pooled = pool(runs)
    print("\npooled")
    print("| measure | value |")
    print("|---|---:|")
    for name, counts in pooled.items():
        print(f"| {name} | {share(*counts)} |")
    print(f"| end-to-end / crop accuracy | {ratio(pooled)} |")


if __name__ == "__main__":
    main()
