import importlib.metadata

import keras
import numpy as np
import pytest

from course_lib import config


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
