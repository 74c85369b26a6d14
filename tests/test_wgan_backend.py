"""On a backend other than TensorFlow, the WGAN trainer refuses at once with a message that says why."""
import keras
import pytest

from course_lib import wgan


def test_wgan_on_another_backend_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(wgan.keras.backend, "backend", lambda: "jax")
    generator = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    critic = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(NotImplementedError, match="TensorFlow backend.*runs on 'jax'.*KERAS_BACKEND=tensorflow"):
        wgan.WGANTrainer(generator, critic, latent_dim=4)
