"""Helpers for the checks of models the student builds (lessons 03, 04 and 07).

A model is checked against `course_lib`'s model of the same architecture: both get the same
random weights, and their outputs on the same input must agree. Random weights, not fresh
ones: a fresh batch norm is the identity and a fresh bias is 0, which would hide mistakes.
"""
import numpy as np

from course_lib.checks.core import CheckFailed, call_student


def build_student_model(build, *args, exercise):
    """Call the student's builder and insist on a keras.Model."""
    import keras

    model = call_student(build, *args, exercise=exercise)
    if not isinstance(model, keras.Model):
        raise CheckFailed(f"{exercise}: your function returned {type(model).__name__}; it should return the "
                          "keras.Model (keras.Model(inputs, outputs)).")
    return model


def expect_io_shapes(model, input_shape, output_shapes, what, hint=""):
    """The model's input shape and its output shape(s), batch axis None."""
    got_in = tuple(model.input_shape) if not isinstance(model.input_shape, list) else model.input_shape
    if got_in != input_shape:
        raise CheckFailed(f"{what} takes inputs of shape {got_in}; it should take {input_shape}. {hint}".strip())
    got_out = model.output_shape
    got_out = [tuple(s) for s in got_out] if isinstance(got_out, list) else tuple(got_out)
    if got_out != output_shapes:
        raise CheckFailed(f"{what} has output shape(s) {got_out}; it should have {output_shapes}. {hint}".strip())


def outputs_with_same_random_weights(student, reference, inputs, what, hint="", seed=0):
    """Give both models the same random weights; return (student outputs, reference outputs) as NumPy."""
    import keras

    student_shapes = [tuple(w.shape) for w in student.weights]
    reference_shapes = [tuple(w.shape) for w in reference.weights]
    if student_shapes != reference_shapes:
        raise CheckFailed(f"{what}: your weights, in the order the layers are built, have shapes {student_shapes}; "
                          f"they should be {reference_shapes}. {hint}".strip())
    rng = np.random.default_rng(seed)
    weights = [_random_weight(rng, w) for w in student.weights]
    student.set_weights(weights)
    reference.set_weights(weights)

    def run(model):
        out = model(inputs, training=False)
        if isinstance(out, (list, tuple)):
            return [keras.ops.convert_to_numpy(o) for o in out]
        return keras.ops.convert_to_numpy(out)
    return run(student), run(reference)


def _random_weight(rng, variable):
    """Kernels ~ N(0, 1/fan_in); biases and batch-norm shifts and means ~ N(0, 1); scales and variances > 0."""
    shape, name = tuple(variable.shape), variable.path
    if len(shape) > 1:
        return rng.normal(0, 1 / np.sqrt(np.prod(shape[:-1])), shape)
    if "variance" in name or "gamma" in name:
        return rng.uniform(0.5, 1.5, shape)
    return rng.normal(0, 1, shape)
