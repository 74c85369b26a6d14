"""The generic train_on_batch loop: logging, shuffling, transforms, validation, NaN stop."""
import keras
import numpy as np
import pytest

from course_lib import training


def linear_problem(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    return x, y


def linear_model(learning_rate=0.05, seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss="mse")
    return model


def sgd_replay(x, y, kernel, bias, learning_rate, epochs, batch_size, seed):
    """The loop's steps in NumPy: batches in the order of default_rng(seed), SGD on the mean squared error."""
    kernel, bias, rng = kernel.astype(np.float64), bias.astype(np.float64), np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            residual = x[index] @ kernel + bias - y[index]  # (N, 1)
            kernel = kernel - learning_rate * 2 / len(index) * x[index].T @ residual  # d mean(r^2) / d kernel
            bias = bias - learning_rate * 2 / len(index) * residual.sum(axis=0)
    return kernel, bias


def test_training_lowers_the_loss_and_logs_every_step():
    x, y = linear_problem(n=70)
    model = linear_model()
    kernel, bias = model.get_weights()  # whatever the backend's random initialisation drew
    before = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    history = training.train(model, x, y, epochs=3, batch_size=32, verbose=False)
    assert len(history.steps["loss"]) == 3 * 3  # ceil(70 / 32) = 3 steps per epoch
    assert len(history.epochs["loss"]) == 3
    assert len(history.epoch_seconds) == 3 and all(s > 0 for s in history.epoch_seconds)
    # an epoch's value is the mean of its steps weighted by batch size (32, 32, 6)
    first = history.steps["loss"][:3]
    np.testing.assert_allclose(history.epochs["loss"][0], (32 * first[0] + 32 * first[1] + 6 * first[2]) / 70)
    want_kernel, want_bias = sgd_replay(x, y, kernel, bias, 0.05, epochs=3, batch_size=32, seed=0)
    got_kernel, got_bias = model.get_weights()
    np.testing.assert_allclose(got_kernel, want_kernel, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got_bias, want_bias, rtol=1e-4, atol=1e-5)
    after = float(np.mean((model.predict(x, verbose=0) - y) ** 2))
    assert after < before, (before, after)


def test_same_seed_same_history_and_the_order_is_shuffled():
    x, y = linear_problem()
    a = training.train(linear_model(), x, y, epochs=2, batch_size=16, seed=1, verbose=False)
    b = training.train(linear_model(), x, y, epochs=2, batch_size=16, seed=1, verbose=False)
    c = training.train(linear_model(), x, y, epochs=2, batch_size=16, seed=2, verbose=False)
    np.testing.assert_array_equal(a.steps["loss"], b.steps["loss"])
    assert not np.allclose(a.steps["loss"], c.steps["loss"])


def test_transform_is_applied_at_every_epoch():
    x, y = linear_problem()
    calls = []

    def constant_target(epoch, x_in, y_in):
        calls.append(epoch)
        return x_in, np.full_like(y_in, 5.0)  # the model must learn the transformed target

    model = linear_model(learning_rate=0.1)
    training.train(model, x, y, epochs=10, batch_size=16, transform=constant_target, verbose=False)
    assert calls == list(range(10))
    np.testing.assert_allclose(model.predict(x, verbose=0), 5.0, atol=0.5)


def test_validation_each_epoch_matches_evaluate():
    x, y = linear_problem(n=64)
    x_val, y_val = linear_problem(n=40, seed=1)
    model = linear_model()
    history = training.train(model, x, y, epochs=2, batch_size=16, validation_data=(x_val, y_val),
                             verbose=False)
    assert len(history.epochs["val_loss"]) == 2
    reference = float(np.mean((model.predict(x_val, verbose=0) - y_val) ** 2))
    np.testing.assert_allclose(history.epochs["val_loss"][-1], reference, rtol=1e-4)


def test_list_inputs_are_sliced_together():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 2)).astype(np.float32), rng.normal(size=(50, 1)).astype(np.float32)
    y = a.sum(axis=1, keepdims=True) - b
    in_a, in_b = keras.Input(shape=(2,)), keras.Input(shape=(1,))
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([in_a, in_b]))
    model = keras.Model([in_a, in_b], out)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    history = training.train(model, [a, b], y, epochs=20, batch_size=10, verbose=False)
    assert history.epochs["loss"][-1] < 1e-2  # only possible if a and b stay paired with y


def test_nan_loss_stops_and_restores_the_last_good_epoch():
    x, y = linear_problem()
    model = linear_model()
    seen = {}

    def poison_second_epoch(epoch, x_in, y_in):
        seen[epoch] = [w.copy() for w in model.get_weights()]  # weights at the start of this epoch
        if epoch == 1:
            return np.full_like(x_in, np.nan), y_in
        return x_in, y_in

    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 2, step 1 \(global step 5\)"):
        training.train(model, x, y, epochs=3, batch_size=16, transform=poison_second_epoch, verbose=False)
    for got, want in zip(model.get_weights(), seen[1]):
        np.testing.assert_array_equal(got, want)
    assert all(np.all(np.isfinite(v)) for v in model.get_weights())
    assert all(np.all(np.isfinite(keras.ops.convert_to_numpy(v))) for v in model.optimizer.variables)


def test_inf_in_the_first_epoch_is_reported_with_its_step():
    x, y = linear_problem()
    y[40:] = np.inf
    model = linear_model()
    with pytest.raises(FloatingPointError, match="epoch 1, step"):
        training.train(model, x, y, epochs=1, batch_size=64, seed=0, verbose=False)


def test_nan_at_the_very_first_step_leaves_the_initial_weights_and_optimizer():
    x, y = linear_problem()
    model = linear_model()
    initial = [w.copy() for w in model.get_weights()]
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1 \(global step 1\).*before the first step") as error:
        training.train(model, x * 1e30, y, epochs=2, batch_size=16, verbose=False)  # the squared error overflows
    assert "Try a smaller learning rate" in str(error.value)  # the data is finite: the training is blamed
    for got, want in zip(model.get_weights(), initial):
        np.testing.assert_array_equal(got, want)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0


def test_nan_in_the_batch_blames_the_data_and_names_the_batch():
    x, y = linear_problem(n=64)
    x[[7, 40]] = np.nan
    model = linear_model()
    with pytest.raises(FloatingPointError) as error:
        training.train(model, x, y, epochs=1, batch_size=64, verbose=False)
    message = str(error.value)
    assert "at epoch 1, step 1" in message
    assert "Batch 1 of this epoch holds NaN or inf in x (examples 7, 40 of the epoch's data" in message
    assert "the data is at fault, not the learning rate" in message and "smaller learning rate" not in message
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_bad_arguments_are_explained():
    x, y = linear_problem()
    with pytest.raises(ValueError, match="epochs=0"):
        training.train(linear_model(), x, y, epochs=0)
    with pytest.raises(ValueError, match="batch_size=-1"):
        training.train(linear_model(), x, y, batch_size=-1)
    with pytest.raises(ValueError, match="epochs=True"):
        training.train(linear_model(), x, y, epochs=True)
    uncompiled = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compiled"):
        training.train(uncompiled, x, y)
    with pytest.raises(ValueError, match="64 examples but y has 10"):
        training.train(linear_model(), x, y[:10])
