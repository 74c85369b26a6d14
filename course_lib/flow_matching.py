"""Flow matching with classifier-free guidance (lesson 14).

    network = unet.build_unet(num_classes=10, time_scale=1000)    # (x_t, t in [0, 1], label) -> velocity
    model = FlowMatching(network, num_classes=10, label_dropout=0.1)
    model.compile(optimizer=keras.optimizers.Adam(2e-4))
    diffusion.train(model, [x_train, y_train], steps=10_000, ema=MovingAverage(network, 0.999))
    x_fake = euler_sample(ema.model, labels=np.arange(10), num_steps=20, w=2.0)

Convention: t runs from 0 (noise) to 1 (data). With x_0 ~ N(0, I) and x_1 a data image, the straight path

    x_t = (1 - t) x_0 + t x_1,    its velocity  dx_t/dt = x_1 - x_0,

is the regression target: the network learns v_theta(x_t, t) ~ E[x_1 - x_0 | x_t]. Sampling integrates
dx/dt = v_theta(x, t) from t = 0 to 1 with Euler steps x <- x + dt v.

Classifier-free guidance: one network learns both v(x, t, label) and v(x, t, "no label") (the label is
replaced by the extra token num_classes with probability label_dropout during training), and sampling uses

    v = v_uncond + w (v_cond - v_uncond):   w = 0 is the unconditional model, w = 1 the conditional one,
                                            w > 1 pushes further towards what makes the label likely.
"""
import keras
import numpy as np
from keras import ops

from course_lib.diffusion import gaussian_start, network_output
from course_lib.validate import check_number, check_positive_int


def _per_example(values, like):
    return ops.reshape(ops.cast(values, "float32"), (-1,) + (1,) * (len(like.shape) - 1))  # (N,) -> (N, 1, 1, 1)


def path_and_target(x0, x1, t):
    """x_t = (1 - t) x0 + t x1 and the velocity target x1 - x0; x0 noise, x1 data, t (N,) in [0, 1]."""
    t = _per_example(t, x0)  # (N, 1, 1, 1)
    return (1.0 - t) * x0 + t * x1, x1 - x0  # x_t, dx_t/dt


def velocity_loss(v_target, v_pred):
    """||v - v_theta||^2 / D per example (mean over its D pixels): (N,)."""
    return ops.mean(ops.square(v_target - v_pred), axis=tuple(range(1, len(v_target.shape))))


def euler_step(x, v, dt):
    """x_{t + dt} = x_t + dt v(x_t, t)."""
    return x + dt * v


def guidance(v_uncond, v_cond, w):
    """v = v_uncond + w (v_cond - v_uncond): w = 0 unconditional, w = 1 conditional, w > 1 guided."""
    return v_uncond + w * (v_cond - v_uncond)


class FlowMatching(keras.Model):
    """Wraps a label-conditioned velocity network (x_t, t, label) -> v; trained on the flow-matching loss.

    Call it with [x1 (N, H, W, C) in [-1, 1], labels (N,) or (N, 1) int]: it draws t ~ U(0, 1) and
    x0 ~ N(0, I) per image, replaces each label by the "no label" token (num_classes) with probability
    label_dropout, and returns {"v", "v_pred"}. `path_fn` and `loss_fn` default to this module's.
    """

    def __init__(self, network, num_classes, label_dropout=0.1, path_fn=path_and_target, loss_fn=velocity_loss,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.network, self.num_classes = network, check_positive_int("num_classes", num_classes)
        self.label_dropout = check_number("label_dropout", label_dropout, minimum=0, maximum=1)
        self.path_fn, self.loss_fn = path_fn, loss_fn
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        x1, labels = inputs
        n = ops.shape(x1)[0]
        labels = ops.reshape(ops.cast(labels, "int32"), (-1, 1))  # (N, 1)
        t = keras.random.uniform((n,), seed=self.seed_generator)  # t ~ U(0, 1)
        x0 = keras.random.normal(ops.shape(x1), seed=self.seed_generator)  # x0 ~ N(0, I)
        dropped = keras.random.uniform((n, 1), seed=self.seed_generator) < self.label_dropout
        labels = ops.where(dropped, self.num_classes, labels)  # "no label" with probability label_dropout
        x_t, v = self.path_fn(x0, x1, t)
        v_pred = self.network([x_t, ops.reshape(t, (-1, 1)), labels], training=training)
        return {"v": v, "v_pred": v_pred}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return ops.mean(self.loss_fn(y_pred["v"], y_pred["v_pred"]))  # E_{t, x0, x1} ||(x1 - x0) - v_theta||^2


def euler_sample(network, labels, num_steps, w=1.0, num_classes=10, step_fn=euler_step, guidance_fn=guidance,
                 seed=0, x_start=None, verbose=0):
    """Integrate dx/dt = v from t = 0 (noise) to 1 in num_steps Euler steps; labels (n,) int, one per sample.

    With w == 1 the network is called once per step (the conditional velocity); otherwise twice, with
    the labels and with the "no label" token, combined by guidance_fn(v_uncond, v_cond, w).
    """
    check_positive_int("num_steps", num_steps)
    labels = np.asarray(labels, "int32").reshape(-1, 1)
    image_shape = network.input_shape[0][1:]
    x = gaussian_start(len(labels), image_shape, seed) if x_start is None else np.asarray(x_start, "float32")
    no_label = np.full_like(labels, num_classes)
    dt, progress = 1.0 / num_steps, keras.utils.Progbar(num_steps, verbose=verbose)
    for i in range(num_steps):
        t = i * dt
        v = network_output(network, x, t, labels)
        if w != 1:
            v = guidance_fn(network_output(network, x, t, no_label), v, np.float32(w))
        x = ops.convert_to_numpy(step_fn(x, v, np.float32(dt)))
        progress.update(i + 1)
    return x
