"""Keep TensorFlow's start-up noise out of the lessons, without hiding real errors.

On a machine without an NVIDIA GPU, TensorFlow's import and its first device query write
lines like these to the process's standard error, from C++ code, partly before TensorFlow
reads TF_CPP_MIN_LOG_LEVEL (so that variable cannot hide them):

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:... cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
    E0000 00:00:... cuda_platform.cc:52] failed call to cuInit: ... UNKNOWN ERROR (303)

Nothing is wrong: there is no GPU, and `config.report()` says so in one line. So
`import course_lib` (the first cell of every lesson, before anything imports TensorFlow)
sets TF_CPP_MIN_LOG_LEVEL=2 unless it is set, and calls `filter_tensorflow_import()`:
TensorFlow's import then runs inside `filtered_stderr()`, which drops exactly the lines
`is_noise` names and passes every other line on as it comes. `config.report()` queries the
devices inside the same filter. The CUDA lines count as noise only where the machine has no
NVIDIA device; where it has one they may be the reason the GPU is not used, and they stay.
A user who asks for TensorFlow's logs (TF_CPP_MIN_LOG_LEVEL=0 or 1, TF_CPP_MAX_VLOG_LEVEL,
TF_CPP_VMODULE) gets all of them: nothing is filtered.
"""
import contextlib
import glob
import importlib.util
import os
import re
import sys
import threading

ALWAYS_NOISE = [re.compile(pattern) for pattern in (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU instructions",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\.$",
    r"oneDNN custom operations are on\.",
)]
NO_GPU_NOISE = [re.compile(pattern) for pattern in (
    r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.",
    r"failed call to cuInit",
)]


def has_nvidia_device():
    """Whether the operating system shows an NVIDIA device (Linux: /dev/nvidia0, /dev/nvidia1, ...)."""
    return bool(glob.glob("/dev/nvidia[0-9]*"))


def is_noise(line, gpu_present=None):
    """True for one of TensorFlow's known start-up lines that say nothing is wrong."""
    line = line.rstrip("\r\n")
    if any(pattern.search(line) for pattern in ALWAYS_NOISE):
        return True
    gpu_present = has_nvidia_device() if gpu_present is None else gpu_present
    return not gpu_present and any(pattern.search(line) for pattern in NO_GPU_NOISE)


def logs_requested():
    """Whether the user asked TensorFlow for its info lines or verbose logs (then nothing is filtered)."""
    return (os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2").strip() in ("0", "1")
            or bool(os.environ.get("TF_CPP_MAX_VLOG_LEVEL")) or bool(os.environ.get("TF_CPP_VMODULE")))


@contextlib.contextmanager
def filtered_stderr(noise=is_noise):
    """Inside the block, lines written to file descriptor 2 (by C++ code too) go through `noise`.

    A line for which noise(line) is true is dropped; every other line reaches the original
    standard error at once, so a crash inside the block still shows what was printed before it.
    """
    if logs_requested():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # no standard error to filter (e.g. pythonw)
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    forward = threading.Thread(target=_forward, args=(read_end, saved, noise), daemon=True)
    forward.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer is gone: the thread reads to the end and stops
        forward.join(timeout=5)
        if not forward.is_alive():  # else a child process still holds the pipe: leave `saved` open
            os.close(saved)


def _forward(read_end, target, noise):
    with os.fdopen(read_end, "rb") as pipe:
        for line in pipe:
            if not noise(line.decode(errors="replace")):
                os.write(target, line)


class _FilteredImport:
    """A finder that finds nothing itself: it runs the loading of one module inside filtered_stderr."""

    def __init__(self, name):
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once only, and so that the search below does not find this finder
        spec = importlib.util.find_spec(fullname)
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader.exec_module = _filtered(spec.loader, spec.loader.exec_module)
        return spec


def _filtered(loader, exec_module):
    def exec_module_filtered(module):
        try:
            with filtered_stderr():
                exec_module(module)
        finally:
            del loader.exec_module  # back to the class's method
    return exec_module_filtered


def filter_tensorflow_import():
    """Make TensorFlow's coming import run inside filtered_stderr (nothing to do once it is imported)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _FilteredImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _FilteredImport("tensorflow"))
