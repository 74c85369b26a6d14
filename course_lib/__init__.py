"""course_lib: the small library behind the deep generative models course.

Each lesson imports what it needs from here: `config` (fast mode, seeds),
`data` (MNIST / Fashion-MNIST), `plotting`, `checks` (exercise feedback) and
the model and training modules of the later lessons.
"""
import os

from course_lib import startup_noise

# Quieter notebooks, set before TensorFlow is imported: hide TensorFlow's C++ info and warning
# lines, and drop its start-up lines that say nothing is wrong (see course_lib.startup_noise).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
startup_noise.filter_tensorflow_import()

__version__ = "0.1.0"
