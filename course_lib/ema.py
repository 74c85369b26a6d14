"""A moving average of a generator's weights (Polyak averaging, as in progressive GANs).

After every update of G:

    w_ema <- d_t w_ema + (1 - d_t) w,    d_t = min(decay, (1 + t) / (10 + t)),   t = G updates so far

for G's trained weights; the other weights (batch-norm moving statistics) are copied. The short
memory at first (d_t small for small t) keeps the average from dragging G's random start along.
Samples of the average depend much less than the last G's on the step at which training stops.
"""
import keras
from keras import ops

from course_lib import backend


class MovingAverage:
    """`model`: a copy of `generator` whose weights follow the moving average; `update(t)` after each G update.

    Pass t as a tensor (e.g. `ops.convert_to_tensor(step, "float32")` or the optimizer's iterations): with a
    Python int, TensorFlow compiles a new graph for every new value of t.
    """

    def __init__(self, generator, decay):
        if not 0.0 < float(decay) < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), e.g. 0.999, or None for no average; got {decay!r}")
        self.generator, self.decay = generator, float(decay)
        self.model = _clone(generator)
        # one compiled graph: on JAX the variables' values go in and the assigned ones come out
        self.update = backend.compile(self.assign_average, lambda: self.generator.variables + self.model.variables)

    def assign_average(self, t):
        """w_ema <- d_t w_ema + (1 - d_t) w for G's trained weights; copy the rest. t: G updates so far."""
        t = ops.cast(t, "float32")
        decay = ops.minimum(self.decay, (1.0 + t) / (10.0 + t))  # d_t: short memory at first
        trained = {id(v) for v in self.generator.trainable_weights}
        for ema_var, var in zip(self.model.weights, self.generator.weights):
            # ops.copy: on JAX a plain `assign(var)` would share var's buffer, which G's next
            # train_on_batch or predict donates and deletes ("Array has been deleted").
            ema_var.assign(decay * ema_var + (1.0 - decay) * var if id(var) in trained else ops.copy(var))


def _clone(generator):
    try:
        ema = keras.models.clone_model(generator)
    except Exception as err:
        raise ValueError("ema_decay needs a generator that keras.models.clone_model can copy (Sequential or "
                         f"functional); cloning failed with: {err}") from err
    ema.set_weights(generator.get_weights())
    ema.trainable = False  # only ever assigned to, never trained
    return ema
