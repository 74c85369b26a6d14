import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from course_lib import config, startup_noise

ROOT = Path(__file__).resolve().parent.parent


def test_choose_follows_course_fast(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
    assert config.is_fast() and config.choose(full=30, fast=1) == 1
    monkeypatch.setenv("COURSE_FAST", "0")
    assert not config.is_fast() and config.choose(full=30, fast=1) == 30
    monkeypatch.delenv("COURSE_FAST")
    assert config.choose(full=30, fast=1) == 30  # full mode is the default


def test_unreadable_fast_value_is_an_error(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "maybe")
    with pytest.raises(ValueError, match="COURSE_FAST"):
        config.is_fast()


def test_set_seed_makes_numpy_and_keras_repeat():
    config.set_seed(3)
    first = (np.random.rand(3), keras.ops.convert_to_numpy(keras.random.normal((3,))))
    config.set_seed(3)
    second = (np.random.rand(3), keras.ops.convert_to_numpy(keras.random.normal((3,))))
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_report_is_one_line_with_backend_and_device(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_FAST", "1")
    backend = keras.backend.backend()
    line = config.report()
    assert "\n" not in line and "fast mode" in line and "GPU:" in line
    framework = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    assert f"backend {backend} ({framework} {importlib.metadata.version(framework)}, keras {keras.__version__}," in line
    assert capsys.readouterr().out.strip() == line


def test_setup_drops_only_the_retracing_notice_and_returns_nothing(capsys):
    import logging

    assert config.setup(seed=0) is None  # a cell ending with setup() shows the report once, not twice
    assert capsys.readouterr().out.startswith("[course_lib]")
    config.setup(seed=0)  # twice: still one filter
    logger = logging.getLogger("tensorflow")
    assert sum(isinstance(f, config._DropRetracingNotices) for f in logger.filters) == 1

    def record(message):
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    notice = "5 out of the last 6 calls to <function f> triggered tf.function retracing. Tracing is expensive"
    assert not logger.filter(record(notice))
    assert logger.filter(record("Gradients do not exist for variables ['dense/kernel']"))


NOISE = ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
         "I0000 00:00:1796313243.343978    7289 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
         "GPU will not be used.\n"
         "E0000 00:00:1796313269.528490    7375 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
         "Failed call to cuInit: UNKNOWN ERROR (303)\n")


def test_filtered_stderr_drops_the_start_up_noise_and_passes_real_errors_at_the_fd_level(capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setattr(startup_noise, "has_nvidia_device", lambda: False)
    with startup_noise.filtered_stderr():
        os.write(2, NOISE.encode())  # as C++ code writes: straight to file descriptor 2
        os.write(2, b"E0000 00:00:1.0 1 allocator.cc:1] a real error\nand its second line\n")
    err = capfd.readouterr().err
    assert err == "E0000 00:00:1.0 1 allocator.cc:1] a real error\nand its second line\n"


def test_the_cuda_lines_stay_where_there_is_a_gpu_and_everything_stays_when_logs_are_asked_for(monkeypatch):
    lines = NOISE.splitlines()
    assert [startup_noise.is_noise(line, gpu_present=False) for line in lines] == [True, True, True]
    assert [startup_noise.is_noise(line, gpu_present=True) for line in lines] == [True, False, False]
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    assert startup_noise.logs_requested()


@pytest.mark.skipif(startup_noise.has_nvidia_device(), reason="the CUDA lines are real news where there is a GPU")
def test_a_lesson_start_prints_the_report_and_none_of_tensorflows_start_up_noise():
    pytest.importorskip("tensorflow")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["KERAS_BACKEND"] = "tensorflow"
    lesson_start = "import course_lib\nimport keras\nfrom course_lib import config\nconfig.setup(seed=0)"
    result = subprocess.run([sys.executable, "-c", lesson_start], env=env, cwd=str(ROOT), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[course_lib] ") and "GPU: none (running on CPU)" in result.stdout
    for noise in ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard"):
        assert noise not in result.stderr, result.stderr
