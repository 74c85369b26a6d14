"""Argument checks shared across course_lib: one clear ValueError that names the argument.

Each check returns the value it accepted (converted where that helps, e.g. a tuple), so a caller
can write `hidden = check_positive_ints("hidden", hidden)`.
"""
import math
import numbers

import numpy as np


def _is_int(value):
    """A Python or NumPy integer; bools are not integers here (`n_train=True` is a mistake)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_positive_int(name, value, minimum=1):
    """`value` must be an integer (not a bool) >= `minimum`."""
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed: it must be an integer >= {minimum}.")
    return value


def check_optional_int(name, value, minimum=1, none_means="the default"):
    """None, or an integer >= `minimum` (e.g. `n_train=None` for all examples)."""
    if value is not None and (not _is_int(value) or value < minimum):
        raise ValueError(f"{name}={value!r} is not allowed: give an integer >= {minimum}, or None for {none_means}.")
    return value


def check_positive_ints(name, values, allow_empty=True):
    """Every entry of `values` (layer sizes, filters, a shape) must be a positive integer; returns a tuple."""
    if _is_int(values) or isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name}={values!r} is not allowed: give a list or tuple of positive integers, "
                         f"one per layer, e.g. {name}=({values!r},) for one entry.")
    values = tuple(values)
    if not values and not allow_empty:
        raise ValueError(f"{name}={values!r} is not allowed: give at least one entry.")
    for v in values:
        if not _is_int(v) or v < 1:
            raise ValueError(f"{name}={list(values)!r}: every entry must be a positive integer, got {v!r}.")
    return values


def check_bool(name, value):
    """`value` must be True or False (a string such as "no" is truthy and would mean yes)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}={value!r} is not allowed: use True or False.")
    return bool(value)


def check_number(name, value, minimum=None, maximum=None):
    """A finite real number (not a bool or a string) in [minimum, maximum]; returns it as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} is not allowed: it must be a finite number.")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name}={value!r} is not allowed: it must be {bounds}.")
    return float(value)


def check_value_range(name, value, allowed=((0, 1), (-1, 1))):
    """A pixel range such as (0, 1) or (-1, 1); returns it as a tuple."""
    pairs = " or ".join(str(pair) for pair in allowed)
    if not isinstance(value, (tuple, list)) or tuple(value) not in allowed:
        raise ValueError(f"{name}={value!r} is not supported: use {pairs}.")
    return tuple(value)


def check_image_shape(name, shape):
    """(height, width, channels), three positive integers; returns a tuple."""
    shape = check_positive_ints(name, shape)
    if len(shape) != 3:
        raise ValueError(f"{name}={shape!r} must be (height, width, channels), e.g. (28, 28, 1).")
    return shape


def check_halves_exactly(name, shape, n_halvings, what):
    """Height and width of `shape` must survive `n_halvings` stride-2 layers exactly; returns (h, w) after them."""
    factor = 2 ** n_halvings
    height, width = shape[0], shape[1]
    if height % factor or width % factor:
        raise ValueError(f"{name}={tuple(shape)!r} is not allowed with {what}: {n_halvings} stride-2 layers need "
                         f"a height and a width divisible by {factor}, got {height} x {width}.")
    return height // factor, width // factor


def check_output_shape(model, expected, argument):
    """A builder's last check: the model really makes images of shape `expected`."""
    made = tuple(model.output_shape[1:])
    if made != tuple(expected):
        raise ValueError(f"{model.name} would make outputs of shape {made}, not {argument}={tuple(expected)}; "
                         f"choose sizes whose layers reach {tuple(expected)}.")
    return model
