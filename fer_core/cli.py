"""Command line: `python -m fer_core {predict,evaluate,train}`."""

from __future__ import annotations

import argparse
import sys

from fer_core.training import TrainConfig


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model on FER2013 (resumes an interrupted run)")
    defaults = TrainConfig(data="")
    p.add_argument("--data", required=True, help="FER2013 folder (train/, test/) or fer2013.csv")
    p.add_argument("--out", default=defaults.out, help="where the model and its files are written")
    p.add_argument("--work-dir", default=defaults.work_dir, help="checkpoints; rerun with the same one to resume")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--batch-size", type=int, default=defaults.batch_size)
    p.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    p.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    p.add_argument("--class-weight-power", type=float, default=defaults.class_weight_power)
    p.add_argument("--patience", type=int, default=defaults.patience, help="epochs without improvement before stopping")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--limit", type=int, help="use only N images of each split (quick trials)")
    p.add_argument("--steps-per-epoch", type=int, help="cap the steps of each epoch (quick trials)")


def _run_train(args) -> int:
    from fer_core.training import train

    config = TrainConfig(
        data=args.data,
        out=args.out,
        work_dir=args.work_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        label_smoothing=args.label_smoothing,
        class_weight_power=args.class_weight_power,
        patience=args.patience,
        seed=args.seed,
        limit=args.limit,
        steps_per_epoch=args.steps_per_epoch,
    )
    out = train(config)
    print(f"wrote {out}/model.keras")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    args = parser.parse_args(argv)
    return {"train": _run_train}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
