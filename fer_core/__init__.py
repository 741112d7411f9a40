"""fer_core: find faces, classify their emotion, train and evaluate the model."""

import contextlib
import sys

# pylibsrtp (the SRTP library under aiortc, which the live page's WebRTC uses) kills the process with
# a segmentation fault when it is first imported after TensorFlow: a server that had served the photo
# page died when a visitor then opened the live page. Importing it before anything loads TensorFlow
# avoids that; in the app every TensorFlow import comes after this package's. A process that loaded
# TensorFlow first (a script of yours) is left alone: importing pylibsrtp now would be the crash.
if "tensorflow" not in sys.modules:
    with contextlib.suppress(ImportError):
        import pylibsrtp  # noqa: F401

from fer_core.labels import EMOTIONS  # noqa: E402

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it from here

__all__ = ["EMOTIONS", "__version__"]
