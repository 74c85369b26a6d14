"""The lesson 14 checks pass the solutions and fail stubs and plausible mistakes with specific messages."""
import pytest
from keras import ops

from course_lib import flow_matching
from course_lib.checks import CheckFailed, lesson14


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def per_example(t):
    return ops.reshape(t, (-1, 1, 1, 1))


def test_path_and_target_check():
    lesson14.check_path_and_target(flow_matching.path_and_target)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson14.check_path_and_target(stub)
    with pytest.raises(CheckFailed, match="runs from data to noise"):
        lesson14.check_path_and_target(
            lambda x0, x1, t: (per_example(t) * x0 + (1 - per_example(t)) * x1, x1 - x0))
    with pytest.raises(CheckFailed, match="sign is flipped"):
        lesson14.check_path_and_target(lambda x0, x1, t: (flow_matching.path_and_target(x0, x1, t)[0], x0 - x1))
    with pytest.raises(CheckFailed, match="the data itself"):
        lesson14.check_path_and_target(lambda x0, x1, t: (flow_matching.path_and_target(x0, x1, t)[0], x1))
    with pytest.raises(CheckFailed, match="broadcast along the images' last axis"):
        lesson14.check_path_and_target(lambda x0, x1, t: ((1 - t) * x0 + t * x1, x1 - x0))
    with pytest.raises(CheckFailed, match="two arrays"):
        lesson14.check_path_and_target(lambda x0, x1, t: x1 - x0)


def test_euler_step_check():
    lesson14.check_euler_step(flow_matching.euler_step)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson14.check_euler_step(stub)
    with pytest.raises(CheckFailed, match="walks backwards"):
        lesson14.check_euler_step(lambda x, v, dt: x - dt * v)
    with pytest.raises(CheckFailed, match="multiply the velocity by the step size"):
        lesson14.check_euler_step(lambda x, v, dt: x + v)


def test_guidance_check():
    lesson14.check_guidance(flow_matching.guidance)
    lesson14.check_guidance(lambda vu, vc, w: (1 - w) * vu + w * vc)  # the same formula, written differently
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson14.check_guidance(stub)
    with pytest.raises(CheckFailed, match="\\(1 \\+ w\\) convention"):
        lesson14.check_guidance(lambda vu, vc, w: vc + w * (vc - vu))
    with pytest.raises(CheckFailed, match="swapped"):
        lesson14.check_guidance(lambda vu, vc, w: vc + w * (vu - vc))
    with pytest.raises(CheckFailed, match="w \\* v_cond: the unconditional velocity is missing"):
        lesson14.check_guidance(lambda vu, vc, w: w * vc)
