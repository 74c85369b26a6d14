"""course_lib: the small library behind the deep generative models course.

Each lesson imports what it needs from here: `config` (fast mode, seeds),
`data` (MNIST / Fashion-MNIST), `plotting`, `checks` (exercise feedback) and
the model and training modules of the later lessons.
"""
import os

# Quieter notebooks: hide TensorFlow's C++ info lines (set before TensorFlow is imported).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
