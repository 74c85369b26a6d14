"""The likelihood every Bernoulli-output model of the course is trained with."""
from keras import ops


def bernoulli_nll(x, logits):
    """-log p(x) in nats per example, for independent Bernoulli pixels with the given logits.

    x in [0, 1] (binary, or grey levels as "soft" targets) has the shape of `logits`, (batch, ...);
    the result has shape (batch,): a sum over pixels, not a mean.
    """
    x = ops.cast(x, logits.dtype)
    # -[x log s(l) + (1 - x) log(1 - s(l))] = softplus(l) - x l, stable for any l
    per_pixel = ops.softplus(logits) - x * logits
    axes = tuple(range(1, len(per_pixel.shape)))
    return ops.sum(per_pixel, axis=axes)  # (batch,)
