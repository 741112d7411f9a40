"""Command line: `python -m fer_core {predict,video,evaluate,train,ensemble}`.

Errors a user can cause (a missing file, a non-image, a missing model) print one line on
stderr and exit with status 1 (2 for wrong arguments), never a traceback.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from fer_core import __version__
from fer_core.datasets import DatasetError
from fer_core.media.images import ImageError
from fer_core.model.classifier import DEFAULT_MODEL, TTA_VIEWS, ModelError, fast_model
from fer_core.paths import data_dir, shown_path
from fer_core.training.trainer import Run, Stage, WorkerLost

TTA_HELP = "test-time augmentation: classify mirrored (flip: 2 views) or also shifted (shift-flip: 10 views) copies"


def _predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="find faces in images and classify their emotion")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--json", action="store_true", help="print one JSON list of results")
    p.add_argument("--tta", choices=list(TTA_VIEWS), default="none", help=TTA_HELP)


def _video_parser(sub) -> None:
    from fer_core.media.video import VideoLimits, VideoSettings

    p = sub.add_parser("video", help="label every face of a video file; write the annotated MP4 and a CSV")
    p.add_argument("video", type=Path, metavar="IN", help="mp4, mov, webm, avi or mkv")
    p.add_argument("--out", type=Path, required=True, metavar="OUT.mp4", help="the annotated video (H.264 MP4)")
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="one row per face per frame")
    p.add_argument("--json", action="store_true", help="print the rows and a summary per face as JSON")
    p.add_argument(
        "--analyses-per-second",
        type=float,
        default=VideoSettings.analyses_per_second,
        help="how often the model runs; the frames between reuse the last faces (0: every frame)",
    )
    p.add_argument("--max-minutes", type=float, default=VideoLimits.max_minutes, help="refuse longer videos")
    p.add_argument("--max-megabytes", type=int, default=VideoLimits.max_megabytes, help="refuse larger files")
    p.add_argument("--model", type=Path, default=fast_model(), help="default: the fast live model when shipped")


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score the model on a <class>/<image> folder")
    p.add_argument(
        "--data", type=Path, default=data_dir() / "test", help="folder of <class>/<image>; default: $FER_DATA/test"
    )
    p.add_argument("--crops", action="store_true", help="images are face crops already: skip detection")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--write", type=Path, metavar="FILE", help="also save the evaluation as JSON to FILE")
    p.add_argument("--tta", choices=list(TTA_VIEWS), default="none", help=TTA_HELP)


# The recipe's settings the command line can change; given, each replaces that setting in every stage.
STAGE_OPTIONS = {
    "epochs": "epochs to train (the cosine schedule's length)",
    "batch_size": "images per step, over all replicas",
    "learning_rate": "peak, after the warm-up",
    "warmup_epochs": "epochs of the warm-up",
    "weight_decay": "decoupled weight decay",
    "label_smoothing": "of the one-hot targets",
    "ema_momentum": "of the weight average a run keeps",
    "erasing": "chance a face loses a random patch",
    "low_res": "chance a face is shrunk to 16-40 px and grown back",
    "seed": "of shuffling, augmentation and initial weights",
    "validation_fraction": "of each class of train/, held out to pick the epoch and stop early (0: keep the last)",
    "patience": "epochs without a better validation score before stopping",
    "real_repeat": "times each real photo's faces enter an epoch",
    "class_balance": "loss weight of a class: (largest class count / its count) ** this (0: equal)",
    "precision": "Keras dtype policy while training (mixed_bfloat16: faster on CPUs with AVX512-BF16)",
}

# Where real photos are read from: given, each replaces that path in every stage.
REAL_PHOTO_OPTIONS = {
    "real_photos": "folder of <class>/<image> real photos to train on as the app cuts them",
    "real_photos_list": "file naming the real photos to train on, one relative path a line",
    "real_photos_holdout": "file naming held-out real photos, scored each epoch and used to pick it",
}


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model on FER2013 with the recipe of the shipped models (resumes an interrupted run)",
        description="Train a model on FER2013 with the recipe of the shipped models: --config "
        "models/<name>/recipe.json reproduces a shipped one. It never overwrites a trained model unless "
        "--force is given.",
    )
    run, stage = Run(data=""), Stage()
    p.add_argument("--data", required=True, help="FER2013 folder (train/, test/), fer2013.csv, or a packed .npz")
    p.add_argument(
        "--config", type=Path, help="a recipe file (models/<name>/recipe.json); default: one stage of the defaults"
    )
    p.add_argument("--out", default=run.out, help="where the model and its files are written")
    p.add_argument("--force", action="store_true", help="replace the model already in --out")
    p.add_argument("--work-dir", default=run.work_dir, help="checkpoints; rerun with the same one to resume")
    widths = ",".join(map(str, stage.widths))
    p.add_argument("--widths", default=argparse.SUPPRESS, help=f"channels of the network's blocks (default: {widths})")
    for name, text in STAGE_OPTIONS.items():
        value = getattr(stage, name)
        option = "--" + name.replace("_", "-")
        p.add_argument(option, type=type(value), default=argparse.SUPPRESS, help=f"{text} (default: {value})")
    for name, text in REAL_PHOTO_OPTIONS.items():
        option = "--" + name.replace("_", "-")
        p.add_argument(option, metavar="PATH", default=argparse.SUPPRESS, help=f"{text} (default: the recipe's)")
    p.add_argument("--framed", action="store_true", help="also train on every face as the photo detector cuts it out")
    p.add_argument("--init-from", metavar="MODEL", help="start from a trained model (default: random weights)")
    p.add_argument("--prune", action="store_true", help="with --init-from: start from its copy cut down to --widths")
    p.add_argument("--average-with-start", action="store_true", help="end averaged with the weights it started from")
    p.add_argument("--teacher", nargs="+", metavar="MODEL", help="distil from these models (default: none)")
    p.add_argument("--limit", type=int, help="use only N images of each split (quick trials; default: all)")
    p.add_argument("--steps-per-epoch", type=int, help="cap the steps of each epoch (quick trials; default: all)")
    p.add_argument(
        "--strategy",
        choices=["default", "mirrored", "multi-worker"],
        default="default",
        help="tf.distribute strategy: mirrored = all GPUs of this machine, multi-worker = the TF_CONFIG cluster",
    )
    p.add_argument("--pack", type=Path, metavar="FILE.npz", help="only write the data to one .npz (to carry elsewhere)")


def _ensemble_parser(sub) -> None:
    p = sub.add_parser("ensemble", help="write an ensemble's manifest of trained models, and score it")
    p.add_argument("members", nargs="+", type=Path, metavar="MODEL_DIR", help="trained models' directories in models/")
    p.add_argument("--data", required=True, help="FER2013 folder or fer2013.csv; its test split is scored")
    p.add_argument("--out", type=Path, default=DEFAULT_MODEL, help="where the manifest and its files go")
    p.add_argument(
        "--views", choices=list(TTA_VIEWS), default="flip", help="what each member reads: " + TTA_HELP.split(": ", 1)[1]
    )
    p.add_argument(
        "--sure-at",
        type=float,
        default=0.0,
        metavar="P",
        help="read the members in the order given, each face only until its top class has at least this mean "
        "probability (0, the default: every member reads every face; bench/sure_at.py chooses it)",
    )


def _run_predict(args) -> int:
    from fer_core.media.images import check_image_file, read_image

    # Every input is checked before TensorFlow and the model load, so a wrong path is reported at once.
    readable, failed = [], 0
    for path in args.images:
        try:
            check_image_file(path)
            readable.append(path)
        except ImageError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
    if not readable:
        return 1
    from fer_core.pipeline import EmotionPipeline

    pipeline = EmotionPipeline.load(args.model, tta=args.tta)
    results = []
    for path in readable:
        try:
            image = read_image(path)
        except ImageError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        faces = pipeline.analyze(image)
        results.append(
            {
                "image": str(path),
                "width": image.shape[1],
                "height": image.shape[0],
                "faces": [f.to_dict() for f in faces],
            }
        )
        if not args.json:
            print(f"{path}: {len(faces)} face(s)")
            for number, face in enumerate(faces, start=1):
                x, y, w, h = face.box
                top = sorted(zip(face.probs, pipeline.classifier.labels), reverse=True)[:3]
                others = ", ".join(f"{name} {p:.0%}" for p, name in top[1:])
                reading = f"{'unsure: ' if face.unsure else ''}{face.label} {face.confidence:.0%}"
                print(f"  face {number} at x={x} y={y} w={w} h={h}: {reading} ({others})")
    if args.json:
        print(json.dumps(results, indent=2))
    return 1 if failed else 0


def _run_video(args) -> int:
    from fer_core.media.export import video_csv, video_json
    from fer_core.media.video import VideoLimits, VideoSettings, analyze_video, probe
    from fer_core.pipeline import EmotionPipeline

    limits = VideoLimits(max_megabytes=args.max_megabytes, max_minutes=args.max_minutes)
    probe(args.video, limits)  # a bad input is refused before the model loads
    pipeline = EmotionPipeline.load(args.model)
    partial = args.out.with_name(args.out.name + ".partial")  # an existing OUT survives a failed run
    try:
        analysis = analyze_video(
            pipeline,
            args.video,
            partial,
            VideoSettings(analyses_per_second=args.analyses_per_second),
            limits,
            on_progress=_progress_bar,
        )
    finally:
        print(file=sys.stderr)
    partial.replace(args.out)
    if args.csv:
        args.csv.write_text(video_csv(analysis))
    if args.json:
        print(video_json(analysis))
        return 0
    print(
        f"{args.video}: {analysis.frames} frames, the model ran on {len(analysis.analyzed_frames)} "
        f"(every {analysis.every}), {analysis.timing()}; wrote {args.out}" + (f" and {args.csv}" if args.csv else "")
    )
    for summary in analysis.summaries():
        print(
            f"  face #{summary.face_id}: {summary.seconds_on_screen:.1f} s on screen "
            f"({summary.first_s:.1f}-{summary.last_s:.1f} s), mostly {summary.dominant} "
            f"({summary.shares[summary.dominant]:.0%} of its frames)"
        )
    return 0


def _progress_bar(progress) -> None:
    if progress.frames_total:
        filled = round(30 * progress.fraction)
        left = progress.seconds_left
        eta = f", {left:.0f} s left" if left is not None else ""
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {progress.frames_done}/{progress.frames_total} frames{eta}"
    else:
        line = f"{progress.frames_done} frames, {progress.elapsed_s:.0f} s"
    print(f"\r{line}", end="", file=sys.stderr, flush=True)


def _run_evaluate(args) -> int:
    from fer_core.datasets import list_class_folder

    list_class_folder(args.data)  # a missing or empty folder is reported before TensorFlow and the model load
    from fer_core.pipeline import EmotionPipeline
    from fer_core.reporting.evaluation import write_evaluation
    from fer_core.reporting.scoring import evaluate_folder

    pipeline = EmotionPipeline.load(args.model, tta=args.tta)
    evaluation = evaluate_folder(pipeline, args.data, crops=args.crops, on_progress=_EvaluationProgress())
    if args.write:
        write_evaluation(evaluation, args.write)
    if args.json:
        print(json.dumps(evaluation.to_dict(), indent=2))
        return 0
    print(f"images: {evaluation.n}")
    if evaluation.detection_rate is not None:
        print(f"faces detected: {evaluation.detection_rate:.1%}")
    print(f"accuracy: {evaluation.accuracy:.2%}   macro-F1: {evaluation.macro_f1:.4f}")
    print(f"{'class':10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for name, scores in evaluation.per_class.items():
        print(f"{name:10} {scores.precision:9.3f} {scores.recall:7.3f} {scores.f1:6.3f} {scores.support:8d}")
    return 0


class _EvaluationProgress:
    """Progress on stderr, so that --json output stays clean: on a terminal one line redrawn in place; in a
    redirected log a plain line at each tenth, with no carriage returns or colour codes."""

    def __init__(self):
        self.tenths_shown = -1

    def __call__(self, done: int, total: int) -> None:
        line = f"{done}/{total} images"
        if sys.stderr.isatty():
            print(f"\r{line}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        elif 10 * done // total > self.tenths_shown:
            self.tenths_shown = 10 * done // total
            print(line, file=sys.stderr, flush=True)


def recipe_stages(args) -> list[Stage]:
    """The stages to train: the recipe's (or one stage of the defaults) with the command line's settings.
    Stage settings apply to every stage; real-photo paths re-point the stages that read real photos (a
    recipe's fine-tuning stage), or every stage of a recipe that reads none; the start, pruning,
    framing, averaging and teacher options apply to the first."""
    import dataclasses

    from fer_core.training.trainer import read_recipe

    stages = read_recipe(args.config) if args.config else [Stage()]
    given = {name: getattr(args, name) for name in STAGE_OPTIONS if name in args}
    if "widths" in args:
        given["widths"] = tuple(int(w) for w in args.widths.split(","))
    stages = [dataclasses.replace(stage, **given) for stage in stages]
    paths = {name: getattr(args, name) for name in REAL_PHOTO_OPTIONS if name in args}
    readers = [i for i, stage in enumerate(stages) if stage.real_photos] or range(len(stages))
    stages = [dataclasses.replace(s, **paths) if i in readers else s for i, s in enumerate(stages)]
    first = {
        "init_from": args.init_from or stages[0].init_from,
        "prune": args.prune or stages[0].prune,
        "framed": args.framed or stages[0].framed,
        "average_with_start": args.average_with_start or stages[0].average_with_start,
        "teacher": tuple(args.teacher or stages[0].teacher),
    }
    stages[0] = dataclasses.replace(stages[0], **first)
    return stages


def _run_train(args) -> int:
    from fer_core.training.data import pack
    from fer_core.training.trainer import make_strategy, train

    if not Path(args.data).exists():
        raise ValueError(f"no data at {args.data}: give a FER2013 folder (train/, test/) or fer2013.csv")
    if args.pack:
        pack(args.data, args.pack)
        return 0
    if (Path(args.out) / "model.keras").exists() and not args.force:
        raise ValueError(f"{args.out} already holds a model; give another --out, or --force to replace it")
    stages = recipe_stages(args)
    run = Run(args.data, args.out, args.work_dir, args.limit, args.steps_per_epoch, stages)
    out = train(run, strategy=make_strategy(args.strategy))
    print(f"wrote {out}/model.keras" if out else "worker done; the chief wrote the model")
    return 0


def _run_ensemble(args) -> int:
    from fer_core.datasets import load_split
    from fer_core.model.ensemble import write_manifest
    from fer_core.reporting.cards import ensemble_facts, write_card

    manifest = write_manifest(args.members, args.out, views=args.views, sure_at=args.sure_at)
    test, train_labels = load_split(args.data, "test"), load_split(args.data, "train").labels
    facts = ensemble_facts(args.out)
    write_card(args.out, test.images[..., None], test.labels, facts, args.data, train_labels=train_labels)
    print(f"wrote {manifest}")
    return 0


COMMANDS = {
    "predict": _run_predict,
    "video": _run_video,
    "evaluate": _run_evaluate,
    "train": _run_train,
    "ensemble": _run_ensemble,
}


# One example per command, shown at the end of its --help; they run as written in the project folder
# (given FER2013 in fer2013/ and, for video, a clip.mp4).
EXAMPLES = {
    "predict": "python -m fer_core predict docs/astronaut.jpg --json",
    "video": "python -m fer_core video clip.mp4 --out clip_emotions.mp4 --csv clip_emotions.csv",
    "evaluate": "python -m fer_core evaluate --crops",
    "train": "python -m fer_core train --config models/fer_live/recipe.json --data fer2013 --out runs/my_live",
    "ensemble": "python -m fer_core ensemble models/fer_vgg_s21 models/fer_live --data fer2013 --out runs/my_ens",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option that has a default says it (paths relative to the project); the example keeps its lines."""

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and self._default(action) is not None:
            action = copy.copy(action)  # argparse prints no help line for an option without help: give it one
            action.help = self._get_help_string(action).strip()
        return super()._format_action(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        default = self._default(action)
        return help if default is None or "(default:" in help else f"{help} (default: {default})"

    @staticmethod
    def _default(action: argparse.Action) -> str | None:
        """The default as help shows it; None for positionals, flags and options that are off unless given."""
        if not action.option_strings or action.default in (None, False, argparse.SUPPRESS):
            return None
        shown = shown_path(action.default) if isinstance(action.default, Path) else str(action.default)
        return shown.replace("%", "%%")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fer_core", description="Facial emotion recognition.")
    parser.add_argument("--version", action="version", version=f"fer_core {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _predict_parser(sub)
    _video_parser(sub)
    _evaluate_parser(sub)
    _train_parser(sub)
    _ensemble_parser(sub)
    for name, command in sub.choices.items():
        command.formatter_class = HelpFormatter
        command.epilog = f"example:\n  {EXAMPLES[name]}"
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ModelError, DatasetError, ImageError, ValueError, WorkerLost) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
