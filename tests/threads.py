"""Calling one classifier from several threads at once, as the app's sessions do."""

from __future__ import annotations

import threading

import numpy as np


def misread_faces(classifier, faces: np.ndarray, rounds: int, atol: float) -> list[int]:
    """Each of `faces` ((N, 48, 48, 1) uint8) read `rounds` times by a thread of its own, all at once: the
    faces some call read otherwise than alone, or where the call raised (a network called from two threads
    at once may raise, or mix up their faces)."""
    expected = [classifier.predict_batch(faces[i : i + 1]) for i in range(len(faces))]
    wrong: list[int] = []

    def read(index: int) -> None:
        for _ in range(rounds):
            try:
                if not np.allclose(classifier.predict_batch(faces[index : index + 1]), expected[index], atol=atol):
                    wrong.append(index)
            except RuntimeError:
                wrong.append(index)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(faces))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wrong
