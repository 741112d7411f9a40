"""LiteRT (TensorFlow Lite's runtime, the `ai-edge-litert` wheel, with XNNPACK): interpreters of one network
kept per input shape. BlazeFace (`faces/blazeface.py`) and the 8-bit emotion networks (`int8_net.py`) run in it.

An interpreter sets itself up for the shape of its input, and again whenever that shape changes; a photo's
views and its faces come in a few shapes, so each shape keeps an interpreter of its own.
"""

from __future__ import annotations

import contextlib
import os

# XNNPACK's threads: 2 halve a 640x480 frame's BlazeFace views against 1; networks this small gain little from more.
THREADS = max(1, min(4, os.cpu_count() or 1))


class Interpreters:
    """The interpreters of one network (a `.tflite` file's bytes), one per input shape; past `kept`, the least
    recently used goes. Not safe to call from two threads at once: its users hold a lock around it and the
    interpreter it gives."""

    def __init__(self, content: bytes, kept: int = 8):
        from ai_edge_litert.interpreter import Interpreter

        self.content = content
        self.kept = kept
        self._by_shape: dict[tuple[int, ...], object] = {}  # the least recently used first
        first = Interpreter(model_content=content, num_threads=THREADS)  # ValueError for a file LiteRT cannot read
        with _quiet_once():
            first.allocate_tensors()
        self._by_shape[tuple(int(n) for n in first.get_input_details()[0]["shape"])] = first  # the file's own shape

    def for_shape(self, shape: tuple[int, ...]):
        """The interpreter set up for inputs of `shape`."""
        from ai_edge_litert.interpreter import Interpreter

        shape = tuple(int(n) for n in shape)
        interpreter = self._by_shape.pop(shape, None)
        if interpreter is None:
            interpreter = Interpreter(model_content=self.content, num_threads=THREADS)
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(shape))
            with _quiet_once():
                interpreter.allocate_tensors()
        self._by_shape[shape] = interpreter
        if len(self._by_shape) > self.kept:
            del self._by_shape[next(iter(self._by_shape))]
        return interpreter

    def shapes(self) -> list[tuple[int, ...]]:
        """The shapes with an interpreter kept, the least recently used first."""
        return list(self._by_shape)


_first_allocation = [True]


def _quiet_once():
    """Around the process's first `allocate_tensors`, standard error silenced: LiteRT's C++ prints "INFO:
    Created TensorFlow Lite XNNPACK delegate for CPU." there, once a process, with no setting to stop it from
    Python, and the command line's output would start with it."""
    from fer_core.model.classifier import native_stderr_silenced

    if not _first_allocation[0]:
        return contextlib.nullcontext()
    _first_allocation[0] = False
    return native_stderr_silenced()
