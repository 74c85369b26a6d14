"""The few helpers every exercise check is built from."""
import numpy as np


class CheckFailed(AssertionError):
    """Raised by a check with a message meant for the student."""


def call_student(fn, *args, exercise="this exercise", **kwargs):
    """Call the student's function; turn an unfinished stub into a readable message."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as err:
        raise CheckFailed(
            f"{exercise} is not implemented yet ({err}). Fill in the body of "
            f"`{getattr(fn, '__name__', fn)}` and run its cell again before this check."
        ) from None


def as_array(value):
    """A student's result (NumPy, a backend tensor or a Python number) as a float64 NumPy array."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value, dtype=np.float64)


def as_number(value, what):
    """A student's result that must be one number (a loss, a bound), as a float; else CheckFailed naming `what`."""
    try:
        array = as_array(value)
    except (TypeError, ValueError):
        raise CheckFailed(f"{what} should be one number (a scalar); you returned {value!r}.") from None
    if array.size != 1:
        raise CheckFailed(f"{what} should be one number (a scalar, such as the average over the batch); "
                          f"you returned shape {array.shape}.")
    return float(array.reshape(()))


def expect_close(got, want, what, atol=1e-5, rtol=1e-5, hint=""):
    """Raise CheckFailed unless `got` matches `want` in shape and value."""
    got_a, want_a = as_array(got), as_array(want)
    if got_a.shape != want_a.shape:
        raise CheckFailed(
            f"{what}: your result has shape {got_a.shape}; it should have shape {want_a.shape}. {hint}".strip()
        )
    if not np.all(np.isfinite(got_a)):
        raise CheckFailed(f"{what}: your result contains NaN or inf. {hint}".strip())
    if not np.allclose(got_a, want_a, atol=atol, rtol=rtol):
        worst = np.unravel_index(np.argmax(np.abs(got_a - want_a)), got_a.shape) if got_a.ndim else ()
        where = f" at index {tuple(int(i) for i in worst)}" if got_a.ndim else ""
        raise CheckFailed(
            f"{what}: your result is {_short(got_a[worst])}{where}; it should be {_short(want_a[worst])}. {hint}".strip()
        )


def expect_equal(got, want, what, hint=""):
    """Exact comparison for integers, shapes and booleans."""
    got_a, want_a = np.asarray(got), np.asarray(want)
    if got_a.shape != want_a.shape or not np.array_equal(got_a, want_a):
        raise CheckFailed(f"{what}: you gave {_short(got_a)}; it should be {_short(want_a)}. {hint}".strip())


def passed(name, n_cases=None):
    """Tell the student the check passed. Returns None, so a check cell shows only this line."""
    cases = f" ({n_cases} cases)" if n_cases else ""
    print(f"PASSED {name}{cases}")


def _short(value):
    value = np.asarray(value)
    if value.ndim == 0:
        return f"{float(value):.6g}" if np.issubdtype(value.dtype, np.floating) else str(value.item())
    return np.array2string(value, precision=4, threshold=20)
