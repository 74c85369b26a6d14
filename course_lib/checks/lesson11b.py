"""Checks for lesson 11b (CycleGAN): the thick-stroke domain, the cycle-consistency loss, the generators' loss."""
import numpy as np
from keras import ops
from scipy import ndimage

from course_lib import backend
from course_lib.checks.core import CheckFailed, as_array, as_number, call_student, passed


# ----- Exercise 1: thick strokes -------------------------------------------------------------------
def _images(rng):
    strokes = -np.ones((2, 12, 12, 1))
    strokes[0, 0, 3:9, 0] = 1.0  # a bar on the top border
    strokes[1, 4:8, 6, 0] = 0.5  # a faint vertical stroke
    strokes[1, 11, 11, 0] = 1.0  # one pixel in the corner
    return [("random images of shape (3, 7, 9, 1)", rng.uniform(-1, 1, (3, 7, 9, 1)), 3),
            ("strokes that touch the border, (2, 12, 12, 1)", strokes, 3),
            ("random images with size=5", rng.uniform(-1, 1, (2, 10, 8, 1)), 5)]


def _dilation(x, size):
    return ndimage.grey_dilation(x, size=(1, size, size, 1))  # the window stays in one image and channel


def check_thicken(thicken):
    """thicken(images (N, H, W, C), size) -> each pixel the max over the size x size square around it."""
    rng = np.random.default_rng(0)
    cases = _images(rng)
    for name, x, size in cases:
        got = as_array(call_student(thicken, x.astype("float32"), size, exercise="Exercise 1"))
        want = _dilation(x, size)
        if got.shape != want.shape:
            raise CheckFailed(f"for {name} your images have shape {got.shape}; thickening keeps the shape "
                              f"{want.shape} (pad the border, or keep only the windows' centres).")
        if not np.allclose(got, want, atol=1e-5):
            raise CheckFailed(f"for {name} and size={size} your thickened images differ from the grey dilation "
                              f"(largest difference {np.abs(got - want).max():.3g})." + _thicken_hint(got, x, size))
    return passed("check_thicken", len(cases))


def _thicken_hint(got, x, size):
    r = size // 2
    rolled = np.max([np.roll(x, (i, j), axis=(1, 2)) for i in range(-r, r + 1) for j in range(-r, r + 1)], axis=0)
    wrong = {
        "min": (ndimage.grey_erosion(x, size=(1, size, size, 1)),
                " You took the smallest value of each window: that erodes, and the strokes get thinner. Take the max."),
        "roll": (rolled, " Pixels come in from the opposite border: np.roll wraps around. Pad the images with "
                         "-inf (or their minimum) and slice instead."),
        "zero_pad": (ndimage.grey_dilation(x, size=(1, size, size, 1), mode="constant", cval=0.0),
                     " At the border your max also sees the padding 0, brighter than the background -1: pad with "
                     "-inf (or the images' minimum), so that the border adds no ink."),
        "batch": (ndimage.grey_dilation(x, size=(size, size, size, 1)),
                  " Your window also spans neighbouring images of the batch: dilate over height and width only."),
        "mean": (ndimage.uniform_filter(x, size=(1, size, size, 1), mode="nearest"),
                 " Averaging the window blurs the strokes; dilation takes the largest value."),
    }
    for candidate, hint in wrong.values():
        if candidate.shape == got.shape and np.allclose(got, candidate, atol=1e-5):
            return hint
    return " Each output pixel is the largest input pixel in the size x size square centred on it."


# ----- Exercise 2: the cycle-consistency loss -------------------------------------------------------
def check_cycle_consistency_loss(cycle_consistency_loss):
    """cycle_consistency_loss(x, x_back) = mean over the batch and the pixels of |x_back - x| (keras.ops)."""
    rng = np.random.default_rng(2)
    cases = [("random images (4, 6, 6, 1)", rng.uniform(-1, 1, (4, 6, 6, 1)), rng.uniform(-1, 1, (4, 6, 6, 1))),
             ("a round trip that is nearly exact", np.tile([[-1.0, 1.0]], (3, 4)).reshape(3, 2, 2, 2),
              np.tile([[-0.9, 0.8]], (3, 4)).reshape(3, 2, 2, 2)),
             ("a perfect round trip", np.full((2, 3, 3, 1), 0.5), np.full((2, 3, 3, 1), 0.5))]
    for name, x, x_back in cases:
        got = as_number(call_student(cycle_consistency_loss, x.astype("float32"), x_back.astype("float32"),
                                     exercise="Exercise 2"), "the cycle loss")
        want = np.mean(np.abs(x_back - x))
        if not np.isclose(got, want, atol=1e-5):
            raise CheckFailed(f"for {name} your cycle loss is {got:.5g}; it should be {want:.5g}."
                              + _cycle_hint(got, x, x_back))
    _check_compiles(cycle_consistency_loss, cases[0][1], cases[0][2])
    return passed("check_cycle_consistency_loss", len(cases))


def _cycle_hint(got, x, x_back):
    diff = x_back - x
    pixels = diff[0].size
    if np.isclose(got, np.mean(diff ** 2), atol=1e-5):
        return " You squared the differences (L2): the cycle loss is an L1 distance, |x_back - x|."
    if np.isclose(got, np.mean(np.sum(np.abs(diff).reshape(len(x), -1), axis=1)), atol=1e-4):
        return (f" You summed over the {pixels} values of each image: average over them too (the paper's code "
                "does, and lambda = 10 is meant for that average).")
    if np.isclose(got, abs(np.mean(diff)), atol=1e-5):
        return " Take the absolute value of each difference before averaging: errors of opposite sign must not cancel."
    return " Average |x_back - x| over every image and every pixel."


def _check_compiles(cycle_consistency_loss, x, x_back):
    """The trainer calls the loss inside its compiled step: it must work on backend tensors, not only NumPy."""
    compiled = backend.compile(lambda u, v: cycle_consistency_loss(u, v), [])
    try:
        value = compiled(ops.convert_to_tensor(x.astype("float32")), ops.convert_to_tensor(x_back.astype("float32")))
        ok = np.isclose(as_number(value, "the cycle loss"), np.mean(np.abs(x_back - x)), atol=1e-5)
    except CheckFailed:
        raise
    except Exception as err:  # NumPy calls on symbolic tensors fail in many ways, depending on the backend
        raise CheckFailed("your cycle loss gives the right numbers on NumPy arrays but fails inside a compiled "
                          f"training step ({type(err).__name__}). The trainer uses it as a Keras loss: write it "
                          "with keras.ops (ops.mean, ops.abs), not np.") from None
    if not ok:
        raise CheckFailed("your cycle loss gives another value on backend tensors than on NumPy arrays: write it "
                          "with keras.ops (ops.mean, ops.abs).")


# ----- Exercise 3: the generators' loss ---------------------------------------------------------------
def _generator_parts(d_b_fake, d_a_fake, a, a_back, b, b_back):
    l1 = lambda u, v: np.mean(np.abs(v - u))  # noqa: E731
    return {"adv_b": np.mean((d_b_fake - 1) ** 2), "adv_a": np.mean((d_a_fake - 1) ** 2),
            "cyc_a": l1(a, a_back), "cyc_b": l1(b, b_back)}


def check_generator_loss(generator_loss):
    """generator_loss(d_b_fake, d_a_fake, a, a_back, b, b_back, cycle_weight):
    LSGAN both ways + lambda (cycle a + cycle b)."""
    rng = np.random.default_rng(3)
    cases = []
    for weight in (10.0, 2.5):
        scores = [rng.normal(0.0, 0.5, (4, 7, 7, 1)) for _ in range(2)]
        images = [rng.uniform(-1, 1, (4, 5, 5, 1)) for _ in range(4)]
        cases.append((weight, scores, images))
    for weight, (d_b_fake, d_a_fake), (a, a_back, b, b_back) in cases:
        args = [v.astype("float32") for v in (d_b_fake, d_a_fake, a, a_back, b, b_back)]
        got = as_number(call_student(generator_loss, *args, weight, exercise="Exercise 3"), "the generators' loss")
        parts = _generator_parts(d_b_fake, d_a_fake, a, a_back, b, b_back)
        want = parts["adv_b"] + parts["adv_a"] + weight * (parts["cyc_a"] + parts["cyc_b"])
        if not np.isclose(got, want, rtol=1e-5, atol=1e-5):
            raise CheckFailed(f"with cycle_weight={weight} your loss is {got:.5g}; it should be {want:.5g}."
                              + _generator_hint(got, parts, weight, d_b_fake, d_a_fake))
    return passed("check_generator_loss", len(cases))


def _generator_hint(got, p, weight, d_b_fake, d_a_fake):
    adv, cyc = p["adv_b"] + p["adv_a"], p["cyc_a"] + p["cyc_b"]
    wrong = [
        (weight * adv + cyc, " lambda multiplies the cycle terms, not the adversarial ones."),
        (p["adv_b"] + weight * cyc, " The translation B -> A needs its adversarial term too: (D_A(G_BA(b)) - 1)^2."),
        (p["adv_a"] + weight * cyc, " The translation A -> B needs its adversarial term too: (D_B(G_AB(a)) - 1)^2."),
        (adv + weight * p["cyc_a"], " Both cycles count: add |G_AB(G_BA(b)) - b| as well."),
        (adv + weight * p["cyc_b"], " Both cycles count: add |G_BA(G_AB(a)) - a| as well."),
        (np.mean(d_b_fake ** 2) + np.mean(d_a_fake ** 2) + weight * cyc,
         " The generators want their translations scored as real: target 1, (D(G(x)) - 1)^2, not D(G(x))^2."),
        (adv + cyc, " Multiply the cycle terms by cycle_weight (lambda)."),
    ]
    for value, hint in wrong:
        if np.isclose(got, value, rtol=1e-5, atol=1e-5):
            return hint
    return (" L_G = mean (D_B(G_AB(a)) - 1)^2 + mean (D_A(G_BA(b)) - 1)^2 + lambda (cycle loss of a + cycle loss "
            "of b), with your cycle_consistency_loss for the cycles.")
