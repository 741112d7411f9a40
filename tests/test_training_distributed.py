"""Distributed training through the command line, on one machine and no GPU.

- `--strategy mirrored` on a CPU split into two logical devices (tf.config.set_logical_device_configuration
  before TensorFlow starts, in the child process): two replicas, each taking half of every batch.
- `--strategy multi-worker`: two worker processes on loopback ports, each with its own TF_CONFIG
  (MultiWorkerMirroredStrategy), running the same command; the chief alone writes.

The data is a small FER2013-format CSV written here (56 training faces, 14 test faces), so each run
takes seconds of training; most of a test's time is TensorFlow starting in each process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fer_core.labels import EMOTIONS
from tests.app_server import ROOT, free_port

# The child's first lines split the CPU in two before anything else starts TensorFlow, then run the CLI
# (fer_core first: it must be imported before TensorFlow, see fer_core/__init__.py).
TWO_CPUS = (
    "import sys, fer_core, tensorflow as tf; cpu = tf.config.list_physical_devices('CPU')[0]; "
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
    "from fer_core.cli import main; sys.exit(main(sys.argv[1:]))"
)
# Distribute one batch of the training pipeline over the two logical CPUs and print, per replica, what
# it received, and the same batch as the default strategy (one device) sees it.
SPLIT_BATCH = (
    "import sys, json, fer_core, numpy as np, tensorflow as tf; "
    "cpu = tf.config.list_physical_devices('CPU')[0]; "
    "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2); "
    "from fer_core.training.augment import Augmentation, AugmentedFaces; "
    "from fer_core.training.trainer import _batches, make_strategy; "
    "from fer_core.datasets import load_split; "
    "train = load_split(sys.argv[1], 'train'); "
    "faces = lambda: AugmentedFaces(train.images[..., None], np.eye(7, dtype=np.float32)[train.labels], 16, 5, "
    "Augmentation()); "
    "batch = lambda ds: [np.asarray(t) for t in next(iter(ds))]; "
    "whole = batch(_batches(faces(), 2, 0)); strategy = make_strategy('mirrored'); "
    "parts = next(iter(strategy.experimental_distribute_dataset(_batches(faces(), 2, 0)))); "
    "local = [[np.asarray(t) for t in strategy.experimental_local_results(part)] for part in parts]; "
    "print(json.dumps({'replicas': strategy.num_replicas_in_sync, "
    "'sizes': [len(r) for r in local[0]], "
    "'same': [bool(np.allclose(np.concatenate(r), w)) for r, w in zip(local, whole)]}))"
)
TIMEOUT = 300  # seconds for one training process; a run takes 20-60 s on 2 busy cores


def write_fer_csv(path: Path, train_per_class: int = 8, test_per_class: int = 2) -> Path:
    """A FER2013-format CSV (`emotion,pixels,Usage`) of random faces: every class in both splits."""
    rng = np.random.default_rng(0)
    rows = ["emotion,pixels,Usage"]
    for usage, count in (("Training", train_per_class), ("PublicTest", test_per_class)):
        for emotion in range(len(EMOTIONS)):
            for _ in range(count):
                rows.append(f"{emotion},{' '.join(map(str, rng.integers(0, 256, 48 * 48)))},{usage}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    return {**env, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _train_args(data: Path, out: Path, work: Path, epochs: int) -> list[str]:
    # Batches of 32: two steps an epoch (32 + 24 of the 56 faces), so the order of batches counts too.
    command = ["train", "--data", str(data), "--out", str(out), "--work-dir", str(work), "--epochs", str(epochs)]
    return [*command, "--batch-size", "32", "--widths", "8,8,16,16", "--validation-fraction", "0.25"]


def _start_workers(args: list[str], tmp_path: Path, name: str) -> list[subprocess.Popen]:
    """Two workers of one cluster on free loopback ports, each with its TF_CONFIG; output to files."""
    cluster = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    workers = []
    for index in range(2):
        tf_config = {"cluster": {"worker": cluster}, "task": {"type": "worker", "index": index}}
        log = (tmp_path / f"{name}-{index}.log").open("w")
        workers.append(
            subprocess.Popen(
                [sys.executable, "-m", "fer_core", *args, "--strategy", "multi-worker"],
                cwd=ROOT,
                env=_env(TF_CONFIG=json.dumps(tf_config), TMPDIR=str(tmp_path / "tmp")),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return workers


def _finish(processes: list[subprocess.Popen], tmp_path: Path, name: str) -> list[tuple[int, str]]:
    """(exit status, output) of each process; any still running after TIMEOUT is killed."""
    deadline = time.monotonic() + TIMEOUT
    results = []
    for index, process in enumerate(processes):
        try:
            process.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        results.append((process.returncode, (tmp_path / f"{name}-{index}.log").read_text()))
    return results


def _first_epoch_loss(output: str) -> float:
    line = next(line for line in output.splitlines() if " - loss: " in line)
    return float(line.split(" - loss: ")[1].split()[0])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_fer_csv(tmp_path_factory.mktemp("data") / "fer2013.csv")


@pytest.fixture(scope="module")
def mirrored_run(data, tmp_path_factory):
    """`train --strategy mirrored` for one epoch on two logical CPUs: (exit status, output, out dir)."""
    tmp = tmp_path_factory.mktemp("mirrored")
    args = _train_args(data, tmp / "model", tmp / "work", epochs=1) + ["--strategy", "mirrored"]
    result = subprocess.run(
        [sys.executable, "-c", TWO_CPUS, *args], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=TIMEOUT
    )
    return result.returncode, result.stdout + result.stderr, tmp / "model"


@pytest.fixture(scope="module")
def two_workers_run(data, tmp_path_factory):
    """`train --strategy multi-worker` for one epoch by two workers: ([(status, output)] x 2, tmp dir)."""
    tmp = tmp_path_factory.mktemp("workers")
    (tmp / "tmp").mkdir()
    workers = _start_workers(_train_args(data, tmp / "model", tmp / "work", epochs=1), tmp, "run")
    return _finish(workers, tmp, "run"), tmp


def _assert_model_loads(out: Path, replicas: int, strategy: str) -> dict:
    from fer_core.model.classifier import Classifier
    from fer_core.model.opencv_net import opencv_file

    copy = opencv_file(out / "model.keras").name  # the network as the app runs it on a CPU
    files = ["evaluation.json", "history.json", "model.keras", copy, "model_card.json", "recipe.json"]
    assert sorted(p.name for p in out.iterdir()) == files
    probs = Classifier.load(out).predict_batch(np.zeros((3, 48, 48, 1), np.uint8))
    assert probs.shape == (3, len(EMOTIONS)) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    card = json.loads((out / "model_card.json").read_text())
    assert card["distribution"] == {"strategy": strategy, "replicas": replicas}
    assert card["epochs_run"] == 1
    return card


def test_mirrored_on_two_logical_cpus_trains_with_two_replicas(mirrored_run):
    status, output, out = mirrored_run
    assert status == 0, output
    assert "MirroredStrategy: 2 replica(s), each takes 16 of every batch of 32" in output
    _assert_model_loads(out, replicas=2, strategy="MirroredStrategy")


def test_mirrored_splits_each_augmented_batch_between_the_replicas(data):
    """Each replica gets half of the very batch one device would see: the same augmented faces and labels."""
    result = subprocess.run(
        [sys.executable, "-c", SPLIT_BATCH, str(data)], cwd=ROOT, env=_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"replicas": 2, "sizes": [8, 8], "same": [True, True]}


def test_two_workers_train_one_epoch_and_the_chief_alone_writes(two_workers_run):
    (chief_status, chief), (worker_status, worker) = two_workers_run[0]
    tmp = two_workers_run[1]
    assert chief_status == 0, chief
    assert worker_status == 0, worker
    assert "MultiWorkerMirroredStrategy: 2 replica(s)" in chief and "(a worker: the chief writes the files)" in worker
    assert "worker done; the chief wrote the model" in worker
    _assert_model_loads(tmp / "model", replicas=2, strategy="MultiWorkerMirroredStrategy")
    # The work dir holds the chief's checkpoint only; the worker's scratch copies were removed.
    assert sorted(p.name for p in (tmp / "work" / "stage_1").iterdir()) == [
        "best.weights.h5",
        "checkpoint.weights.h5",
        "history.json",
        "last.weights.h5",
        "model.keras",
        "optimizer.npz",
        "state.json",
    ]
    assert list((tmp / "tmp").iterdir()) == []
    # Both workers report the same (all-reduced) loss.
    assert _first_epoch_loss(chief) == _first_epoch_loss(worker)


def test_mirrored_and_multi_worker_train_alike(mirrored_run, two_workers_run):
    """Two replicas in one process or in two: same split of each batch and the same augmentation, so the
    same first-epoch loss (batch norm sees each replica's half: one device differs)."""
    mirrored = _first_epoch_loss(mirrored_run[1])
    multi_worker = _first_epoch_loss(two_workers_run[0][0][1])
    assert multi_worker == pytest.approx(mirrored, rel=1e-3)


def test_a_killed_worker_rejoins_and_training_resumes(data, tmp_path):
    (tmp_path / "tmp").mkdir()
    args = _train_args(data, tmp_path / "model", tmp_path / "work", epochs=4)
    state = tmp_path / "work" / "stage_1" / "state.json"
    workers = _start_workers(args, tmp_path, "first")
    deadline = time.monotonic() + TIMEOUT
    while not (state.exists() and json.loads(state.read_text())["epoch"] >= 1):
        assert time.monotonic() < deadline and workers[0].poll() is None, (tmp_path / "first-0.log").read_text()
        time.sleep(0.2)
    os.killpg(workers[1].pid, signal.SIGKILL)
    (chief_status, chief), _ = _finish(workers, tmp_path, "first")
    # The chief stops with one line saying how to go on, not a traceback.
    assert chief_status == 1, chief
    assert "Traceback" not in chief
    assert chief.rstrip().splitlines()[-1].startswith("error: lost contact with a worker"), chief
    assert "start every worker again with the same command" in chief
    stopped_at = json.loads(state.read_text())["epoch"]
    assert 1 <= stopped_at < 4

    restarted = _finish(_start_workers(args, tmp_path, "again"), tmp_path, "again")
    for status, output in restarted:
        assert status == 0, output
        assert f"resuming from epoch {stopped_at}" in output
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2, 3, 4]
