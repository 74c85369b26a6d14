"""Historical averaging (Salimans et al. 2016): each player is pulled towards the average of its past weights.

Each player's loss gets one more term,

    L_player + weight * || theta - theta_bar ||^2,      theta_bar = the average of theta's past values,

which damps the back-and-forth orbits a GAN's two players can run around an equilibrium (fictitious
play: answer the average of the opponent's past strategies, not its latest one). theta_bar is kept
online as a moving average of the weights, by `course_lib.ema.MovingAverage` (the same average lesson
07 keeps of G for sampling; here it feeds the training).

The penalty depends on the weights only, not on the batch, so its gradient is known in closed form,
2 weight (theta - theta_bar). `HistoricalAveragingTrainer` applies it as a step of its own after each GAN
step (D's Adam update, G's Adam update), to each player that was updated, with its learning rate lr:

    theta <- theta - lr * 2 weight (theta - theta_bar)

(decoupled from Adam, as AdamW decouples weight decay; with plain SGD the two steps in a row equal one
step on the sum of the two losses, to first order in lr).
"""
from keras import ops

from course_lib import backend
from course_lib.ema import MovingAverage
from course_lib.gan_training import HISTORY_KEYS, GANTrainer


def historical_penalty(weights, averages):
    """|| theta - theta_bar ||^2 summed over every weight tensor: two lists of arrays of equal shapes."""
    return sum(ops.sum((w - a) ** 2) for w, a in zip(weights, averages))


class HistoricalAveragingTrainer(GANTrainer):
    """GANTrainer with historical averaging for both players.

    history_weight: the weight of || theta - theta_bar ||^2 in each player's loss.
    history_decay: the decay of the moving average theta_bar (course_lib.ema.MovingAverage: short
        memory at first, then d = history_decay, an average over roughly 1 / (1 - d) past updates).
    The history gains "d_history" and "g_history": each player's || theta - theta_bar ||^2 before its pull.
    """

    history_keys = HISTORY_KEYS + ("d_history", "g_history")

    def __init__(self, generator, discriminator, history_weight=1.0, history_decay=0.99, **kwargs):
        if not float(history_weight) >= 0.0:
            raise ValueError(f"history_weight must be >= 0; got {history_weight!r}")
        # theta_bar starts at the initial weights; cloned before GANTrainer compiles D (a compiled model's
        # clone would need the compile settings too)
        self.averages = {"d": MovingAverage(discriminator, history_decay),
                         "g": MovingAverage(generator, history_decay)}
        super().__init__(generator, discriminator, **kwargs)
        self.history_weight = float(history_weight)
        self._pulls = {key: backend.compile(self._pull, self._pull_variables(key)) for key in self.averages}

    def _pull_variables(self, key):
        model, average = self._player(key)
        return lambda: list(model.variables) + list(average.model.variables)

    def _player(self, key):
        return (self.discriminator if key == "d" else self.generator), self.averages[key]

    def _pull(self, key, learning_rate):
        """theta <- theta - lr * 2 weight (theta - theta_bar); returns ||theta - theta_bar||^2 before the pull."""
        model, average = self._player(key)
        weights, averages = model.trainable_weights, _matching(model, average.model)
        penalty = historical_penalty(weights, averages)
        for w, a in zip(weights, averages):
            w.assign(w - learning_rate * 2.0 * self.history_weight * (w - a))  # gradient of weight * ||w - a||^2
        return penalty

    def train_step(self, batch_size, update_d=True, update_g=True):
        """The GAN step of GANTrainer, then each updated player's pull towards its average."""
        logs = super().train_step(batch_size, update_d, update_g)
        self.discriminator.trainable = True  # D's weights count as trained for the average and the pull
        for key, updated in (("d", update_d), ("g", update_g)):
            if updated:
                optimizer = self.d_optimizer if key == "d" else self.g_optimizer
                lr = ops.convert_to_tensor(optimizer.learning_rate, "float32")
                logs[f"{key}_history"] = self._pulls[key](key, lr)
                # theta_bar <- d_t theta_bar + (1 - d_t) theta, t = the player's updates so far
                self.averages[key].update(ops.cast(optimizer.iterations, "float32"))
        return logs

    def _state(self):
        """GANTrainer's state plus the two averages (checkpoints and the NaN roll-back keep them too)."""
        models, optimizers, variables = super()._state()
        models.update({"d_average": self.averages["d"].model, "g_average": self.averages["g"].model})
        return models, optimizers, variables


def _matching(model, copy):
    """The copy's weights that correspond to `model`'s trainable weights (same order as model.weights)."""
    trained = {id(v) for v in model.trainable_weights}
    return [c for c, v in zip(copy.weights, model.weights) if id(v) in trained]
