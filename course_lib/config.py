"""Run settings shared by every lesson: fast mode, seeds and a one-line report.

`COURSE_FAST=1` (set by CI and by the test suite) shrinks data, epochs and
sample counts. It never switches to other code: a lesson asks
`choose(full=..., fast=...)` for a *number* and runs the same cells either way.
Full mode is the default.
"""
import logging
import os
import platform

from course_lib import startup_noise

FAST_ENV = "COURSE_FAST"


def is_fast():
    """True when the environment asks for fast mode (`COURSE_FAST=1`)."""
    value = os.environ.get(FAST_ENV, "0").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(
        f"{FAST_ENV}={value!r} is not understood: use 1 for fast mode or 0 (the default) for full mode."
    )


def choose(full, fast):
    """Return `fast` in fast mode and `full` otherwise (sizes, epochs, sample counts)."""
    return fast if is_fast() else full


def mode_name():
    return "fast" if is_fast() else "full"


def set_seed(seed=0):
    """Seed Python, NumPy and the Keras backend in one call; returns the seed."""
    import keras

    keras.utils.set_random_seed(seed)
    return seed


def gpu_devices():
    """Names of the accelerators the Keras backend can see (empty on a CPU machine)."""
    from course_lib import backend

    return backend.gpu_devices()


def report(seed=None):
    """One line: mode, backend and versions, and whether a GPU is in use."""
    import keras
    import numpy as np

    from course_lib import backend

    versions = f"{backend.versions()}, keras {keras.__version__}, numpy {np.__version__}, " \
               f"python {platform.python_version()}"
    with startup_noise.filtered_stderr():  # the first device query is where TensorFlow reports a missing CUDA
        gpus = gpu_devices()
    device = f"GPU: {', '.join(gpus)}" if gpus else "GPU: none (running on CPU)"
    seed_text = f" | seed {seed}" if seed is not None else ""
    line = f"[course_lib] {mode_name()} mode | backend {backend.name()} ({versions}) | {device}{seed_text}"
    print(line)
    return line


class _DropRetracingNotices(logging.Filter):
    """Drop TensorFlow's "N out of the last M calls ... triggered tf.function retracing" notice.

    A lesson that builds and compiles many small models (checks, short experiments) traces one
    training function per model. TensorFlow counts those first traces as retracing of one function
    and warns about an expensive loop that is not there.
    """

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


def quiet_retracing_notices():
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _DropRetracingNotices) for f in logger.filters):
        logger.addFilter(_DropRetracingNotices())


def setup(seed=0):
    """What the first code cell of every lesson calls: seed everything and print the report.

    Returns None, so that a cell ending with it shows the report line once.
    """
    quiet_retracing_notices()
    set_seed(seed)
    report(seed)
