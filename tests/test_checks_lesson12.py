"""The lesson 12 checks pass the solutions and fail stubs and plausible mistakes with specific messages."""
import math

import nbformat
import numpy as np
import pytest
from keras import ops

from course_lib import flows, notebooks
from course_lib.checks import CheckFailed, lesson12


def stub(*args):
    raise NotImplementedError("Exercise: not written yet")


def per_example_sum(v):
    return ops.sum(ops.reshape(v, (ops.shape(v)[0], -1)), axis=1)


def forward_with(scale_sign=1.0, log_det_sign=1.0, shift_first=False, every_dim=False, no_log_det=False,
                 log_det_everywhere=False):
    def coupling_forward(x, mask, s, t):
        free = 1.0 - mask
        changed = (x + t) * ops.exp(scale_sign * s) if shift_first else x * ops.exp(scale_sign * s) + t
        y = changed if every_dim else mask * x + free * changed
        if no_log_det:
            return y
        log_det = per_example_sum(s if log_det_everywhere else free * s)
        return y, log_det_sign * log_det
    return coupling_forward


def test_coupling_forward_check():
    lesson12.check_coupling_forward(flows.coupling_forward)
    lesson12.check_coupling_forward(forward_with())
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson12.check_coupling_forward(stub)
    # forgetting the log-det: returning y alone, or a zero log-det
    with pytest.raises(CheckFailed, match="should return two things"):
        lesson12.check_coupling_forward(forward_with(no_log_det=True))
    with pytest.raises(CheckFailed, match="your log_det is 0"):
        lesson12.check_coupling_forward(lambda x, m, s, t: (flows.coupling_forward(x, m, s, t)[0],
                                                            ops.zeros((ops.shape(x)[0],))))
    # exp(-s) in the forward direction
    with pytest.raises(CheckFailed, match="uses exp\\(-s\\): that is the inverse"):
        lesson12.check_coupling_forward(forward_with(scale_sign=-1.0, log_det_sign=-1.0))
    with pytest.raises(CheckFailed, match="wrong sign"):
        lesson12.check_coupling_forward(forward_with(log_det_sign=-1.0))
    with pytest.raises(CheckFailed, match="sums s over every dimension"):
        lesson12.check_coupling_forward(forward_with(log_det_everywhere=True))
    with pytest.raises(CheckFailed, match="shift before you scale"):
        lesson12.check_coupling_forward(forward_with(shift_first=True))
    with pytest.raises(CheckFailed, match="changes every dimension"):
        lesson12.check_coupling_forward(forward_with(every_dim=True))
    with pytest.raises(CheckFailed, match="one number per example"):
        lesson12.check_coupling_forward(lambda x, m, s, t: (flows.coupling_forward(x, m, s, t)[0], (1 - m) * s))


def test_coupling_inverse_check():
    lesson12.check_coupling_inverse(flows.coupling_inverse)
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson12.check_coupling_inverse(stub)
    with pytest.raises(CheckFailed, match="multiplies by exp\\(s\\)"):
        lesson12.check_coupling_inverse(lambda y, m, s, t: m * y + (1 - m) * (y - t) * ops.exp(s))
    with pytest.raises(CheckFailed, match="wrong order"):
        lesson12.check_coupling_inverse(lambda y, m, s, t: m * y + (1 - m) * (y * ops.exp(-s) - t))
    with pytest.raises(CheckFailed, match="changes the copied part"):
        lesson12.check_coupling_inverse(lambda y, m, s, t: (y - t) * ops.exp(-s))


def dequantize_with(levels=256.0, log_det_per_dim=-math.log(256.0), per_image=False):
    def dequantize(x_int, u):
        y = (x_int + u) / levels
        num_dims = math.prod(x_int.shape[1:])
        count = 1 if per_image else num_dims
        return y, count * log_det_per_dim * ops.ones((ops.shape(x_int)[0],))
    return dequantize


def test_dequantize_check():
    lesson12.check_dequantize(flows.dequantize)
    lesson12.check_dequantize(dequantize_with())
    with pytest.raises(CheckFailed, match="not implemented yet"):
        lesson12.check_dequantize(stub)
    with pytest.raises(CheckFailed, match="your log_det is 0"):
        lesson12.check_dequantize(dequantize_with(log_det_per_dim=0.0))
    with pytest.raises(CheckFailed, match="-D log 255"):
        lesson12.check_dequantize(dequantize_with(log_det_per_dim=-math.log(255.0)))
    with pytest.raises(CheckFailed, match="the sign is wrong"):
        lesson12.check_dequantize(dequantize_with(log_det_per_dim=math.log(256.0)))
    with pytest.raises(CheckFailed, match="once per image"):
        lesson12.check_dequantize(dequantize_with(per_image=True))
    with pytest.raises(CheckFailed, match="divide by 255"):
        lesson12.check_dequantize(dequantize_with(levels=255.0, log_det_per_dim=-math.log(255.0)))
    with pytest.raises(CheckFailed, match="should return two things"):
        lesson12.check_dequantize(lambda x, u: (x + u) / 256.0)
    with pytest.raises(CheckFailed, match="one number per image"):
        lesson12.check_dequantize(lambda x, u: ((x + u) / 256.0, -math.log(256.0) * ops.ones_like(x)))


def test_the_lesson_solutions_agree_with_the_library():
    """The three exercise cells of solutions/12 (executed here) compute what course_lib.flows computes."""
    nb = nbformat.read(notebooks.SOLUTIONS / "12_normalizing_flows.ipynb", as_version=4)
    namespace = {"ops": ops, "math": math}
    for cell in nb.cells:
        if cell.cell_type == "code" and notebooks.BEGIN in cell.source:
            exec(cell.source, namespace)
    rng = np.random.default_rng(0)
    x, s, t = (rng.normal(size=(3, 4, 4, 2)).astype("float32") for _ in range(3))
    mask = flows.checkerboard_mask(4, 4, 2, parity=1)
    for got, want in zip(namespace["coupling_forward"](x, mask, s, t), flows.coupling_forward(x, mask, s, t)):
        np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(want), rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(namespace["coupling_inverse"](x, mask, s, t)),
                               ops.convert_to_numpy(flows.coupling_inverse(x, mask, s, t)), rtol=1e-6)
    x_int = rng.integers(0, 256, size=(2, 3, 3, 1)).astype("float32")
    u = rng.uniform(size=x_int.shape).astype("float32")
    for got, want in zip(namespace["dequantize"](x_int, u), flows.dequantize(x_int, u)):
        np.testing.assert_allclose(ops.convert_to_numpy(got), ops.convert_to_numpy(want), rtol=1e-6)
