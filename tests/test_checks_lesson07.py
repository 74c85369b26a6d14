"""lesson07 checks: pass on the solution, fail on the stub and on plausible wrong answers."""
import numpy as np
import pytest

from course_lib import gan_models
from course_lib.checks import CheckFailed, lesson07


def slerp_solution(z0, z1, ts):
    omega = np.arccos(np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1)))
    ts = np.asarray(ts)[:, None]
    return (np.sin((1 - ts) * omega) * z0 + np.sin(ts * omega) * z1) / np.sin(omega)


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def test_conv_matrix_passes_on_the_solution(capsys):
    lesson07.check_conv_matrix(gan_models.conv_matrix)
    assert "PASSED check_conv_matrix" in capsys.readouterr().out


def test_conv_matrix_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 1 is not implemented"):
        lesson07.check_conv_matrix(stub)


def test_conv_matrix_fails_on_a_flipped_kernel():
    # true convolution (kernel flipped) instead of Keras' cross-correlation
    def flipped(kernel, input_shape, stride):
        return gan_models.conv_matrix(np.asarray(kernel)[::-1, ::-1], input_shape, stride)

    with pytest.raises(CheckFailed, match=r"C @ x for a 3x3 kernel on a 4x4 input with stride 1.*no kernel flip"):
        lesson07.check_conv_matrix(flipped)


def test_conv_matrix_fails_on_the_transposed_shape():
    def transposed(kernel, input_shape, stride):
        return gan_models.conv_matrix(kernel, input_shape, stride).T

    with pytest.raises(CheckFailed, match=r"your C has shape \(16, 4\); it should have shape \(4, 16\)"):
        lesson07.check_conv_matrix(transposed)


def test_conv_matrix_fails_when_the_stride_is_ignored_in_the_window():
    def no_stride(kernel, input_shape, stride):
        c = gan_models.conv_matrix(kernel, input_shape, 1)
        out_w = gan_models.conv_output_size(input_shape[1], np.shape(kernel)[1], 1)
        keep_w = gan_models.conv_output_size(input_shape[1], np.shape(kernel)[1], stride)
        keep_h = gan_models.conv_output_size(input_shape[0], np.shape(kernel)[0], stride)
        rows = [i * out_w + j for i in range(keep_h) for j in range(keep_w)]  # right count, wrong windows
        return c[rows]

    with pytest.raises(CheckFailed, match="with stride 2"):
        lesson07.check_conv_matrix(no_stride)


def test_slerp_passes_on_the_solution(capsys):
    lesson07.check_slerp(slerp_solution)
    assert "PASSED check_slerp" in capsys.readouterr().out


def test_slerp_fails_on_the_stub():
    with pytest.raises(CheckFailed, match="Exercise 2 is not implemented"):
        lesson07.check_slerp(stub)


def test_slerp_fails_on_linear_interpolation_with_a_hint():
    def lerp(z0, z1, ts):
        ts = np.asarray(ts)[:, None]
        return (1 - ts) * z0 + ts * z1

    with pytest.raises(CheckFailed, match=r"your result is 0.5 at index \(1, 0\); it should be 0.707.*straight line"):
        lesson07.check_slerp(lerp)
