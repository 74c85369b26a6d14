"""Argument checks shared by the model builders: one clear ValueError naming the argument."""
import numpy as np


def check_positive_int(name, value, minimum=1):
    """`value` must be an integer (not a bool) >= `minimum`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} is not allowed: it must be an integer >= {minimum}.")
    return value


def check_positive_ints(name, values, allow_empty=True):
    """Every entry of `values` (layer sizes, filters, a shape) must be a positive integer; returns a tuple."""
    values = tuple(values)
    if not values and not allow_empty:
        raise ValueError(f"{name}={values!r} is not allowed: give at least one entry.")
    for v in values:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name}={list(values)!r}: every entry must be a positive integer, got {v!r}.")
    return values
