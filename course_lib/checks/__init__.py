"""Feedback for the exercises.

A lesson's check cell calls e.g. `lesson04.check_kl(kl_divergence)` with the
student's own function. A check prints one line when it passes and raises
`CheckFailed` with a specific message when it does not ("for mu=0, log_var=0
your KL is 0.5; it should be 0"). The per-lesson checks live in
`course_lib/checks/lessonNN.py`; the helpers they share are in `core`.
"""
from course_lib.checks.core import CheckFailed, call_student, expect_close, expect_equal, passed

__all__ = ["CheckFailed", "call_student", "expect_close", "expect_equal", "passed"]
