"""course_lib.backend: gradients against closed forms, compiled functions against eager ones,
the report's versions against the installed packages."""
import importlib.metadata

import keras
import numpy as np
import pytest
from keras import ops

from course_lib import backend


def test_gradient_matches_the_closed_form():
    # f(x) = sum(w * sin(x))  =>  df/dx = w * cos(x)
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(3, 4)).astype("float32")
    got = backend.gradient(lambda x: ops.sum(w * ops.sin(x)), x)
    np.testing.assert_allclose(ops.convert_to_numpy(got), w * np.cos(x), rtol=1e-5, atol=1e-6)


def test_gradient_of_an_unused_input_is_zero():
    x = np.ones((2, 3), "float32")
    got = backend.gradient(lambda x: ops.sum(ops.ones((2,))), x)
    np.testing.assert_array_equal(ops.convert_to_numpy(got), np.zeros((2, 3)))


def test_gradient_can_be_differentiated_again():
    # g(x; w) = d/dx sum(x @ w) = w broadcast to every row, so sum(g^2) = B ||w||^2 and its gradient in w is 2 B w:
    # the second-order derivative the WGAN-GP penalty needs.
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(5, 3)).astype("float32"), rng.normal(size=(3, 1)).astype("float32")

    def penalty(w):
        g = backend.gradient(lambda x: ops.sum(ops.matmul(x, w)), x)  # (5, 3)
        return ops.sum(ops.square(g))

    got = backend.gradient(penalty, w)
    np.testing.assert_allclose(ops.convert_to_numpy(got), 2 * 5 * w, rtol=1e-5)


def counting_function():
    """Adds a normal draw to a total: a function that reads and assigns variables."""
    total = keras.Variable(np.zeros((3,), "float32"), trainable=False)
    seed = keras.random.SeedGenerator(7)

    def add_draw(scale, n):
        draw = scale * keras.random.normal((n,), seed=seed)[:3]
        total.assign(total + draw)
        return draw

    return add_draw, total, seed


def test_compiled_function_draws_and_assigns_like_the_eager_one():
    eager, eager_total, _ = counting_function()
    fn, total, seed = counting_function()
    compiled = backend.compile(fn, lambda: [total, seed.state])
    scale = ops.convert_to_tensor(2.0)
    for n in (3, 5, 3):  # n is a Python int: fixed per graph, so shapes may differ between graphs
        np.testing.assert_allclose(ops.convert_to_numpy(compiled(scale, n)),
                                   ops.convert_to_numpy(eager(scale, n)), rtol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(total), ops.convert_to_numpy(eager_total), rtol=1e-6)
    assert np.abs(ops.convert_to_numpy(total)).sum() > 0


def test_compiled_function_sees_assignments_made_between_calls():
    weight = keras.Variable(np.float32(1.0))
    compiled = backend.compile(lambda x: x * weight, [weight])
    assert float(compiled(ops.convert_to_tensor(3.0))) == 3.0
    weight.assign(2.0)
    assert float(compiled(ops.convert_to_tensor(3.0))) == 6.0  # not frozen at its first value


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="only JAX needs the variables listed")
def test_a_variable_left_out_is_a_clear_error_on_jax():
    fn, total, seed = counting_function()
    compiled = backend.compile(fn, [seed.state])  # total is missing
    with pytest.raises(ValueError, match="not passed in `variables`.*"):
        compiled(ops.convert_to_tensor(1.0), 3)


def test_versions_name_the_installed_framework():
    distribution = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend.name()]
    assert backend.versions() == f"{backend.name()} {importlib.metadata.version(distribution)}"


def test_gpu_devices_agree_with_the_framework():
    framework = importlib.import_module({"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend.name()])
    if backend.name() == "tensorflow":
        want = len(framework.config.list_physical_devices("GPU"))
    elif backend.name() == "jax":
        want = sum(d.platform != "cpu" for d in framework.devices())
    else:
        want = framework.cuda.device_count()
    devices = backend.gpu_devices()
    assert len(devices) == want and all(isinstance(d, str) and d for d in devices)


# ----------------------------------------------------------------------------
# The trainable rule: when Keras reads `trainable` differs between backends. The GAN
# trainers set it right before every train_on_batch, which is right on both; these
# tests pin each backend's behaviour, so a Keras release that changes it fails here.
# ----------------------------------------------------------------------------
X, Y = np.ones((4, 3), "float32"), np.zeros((4, 1), "float32")
NO_WEIGHTS = "The model does not have any trainable weights"


def small_model(trainable=True):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.trainable = trainable
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    return model


def learns(model):
    """One train_on_batch; True if it changed the weights."""
    before = model.get_weights()
    model.train_on_batch(X, Y)
    return any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def require_pinned_backend():
    if backend.name() not in ("tensorflow", "jax"):
        pytest.skip(f"the trainable rule is pinned for TensorFlow and JAX, not measured on {backend.name()}")


def test_trainable_set_after_compile_and_before_the_first_call_counts():
    require_pinned_backend()
    model = small_model(trainable=False)
    model.trainable = True  # Keras 3: compile() does not read it
    assert learns(model)


def test_freezing_after_the_first_train_on_batch():
    require_pinned_backend()
    model = small_model()
    assert learns(model)
    model.trainable = False
    if backend.name() == "tensorflow":
        assert learns(model)  # baked into the train function at the first call: the model keeps learning
    else:
        # read at every call: the model now has 0 trainable variables, its optimizer was built for 2
        with pytest.raises(ValueError, match="optimizer was built with 2 variables"):
            model.train_on_batch(X, Y)


def test_unfreezing_after_a_frozen_first_train_on_batch():
    require_pinned_backend()
    model = small_model(trainable=False)
    if backend.name() == "tensorflow":
        with pytest.warns(UserWarning, match=NO_WEIGHTS):  # said once, when the train function is traced
            assert not learns(model)
        model.trainable = True
        assert not learns(model)  # baked in frozen: unfreezing comes too late
    else:
        assert not learns(model)  # no warning on JAX; the optimizer is built for 0 variables
        model.trainable = True
        with pytest.raises(ValueError, match="optimizer was built with 0 variables"):
            model.train_on_batch(X, Y)
