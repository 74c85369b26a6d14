"""The pictures every lesson draws: image grids, loss curves, latent scatters, interpolations.

Each function draws one figure, shows it (inline in Jupyter) and returns it, so a
lesson can also save it with `fig.savefig(...)`.
"""
import matplotlib.pyplot as plt
import numpy as np


def _show(fig):
    fig.tight_layout()
    plt.show()
    return fig


def _to_images(images, value_range=None):
    """(N, 28, 28, 1), (N, 28, 28) or (N, 784) -> (N, H, W) in [0, 1] for imshow."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:  # (N, 784) -> (N, 28, 28)
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"cannot reshape flat images of {x.shape[1]} pixels into a square")
        x = x.reshape(len(x), side, side)
    if x.ndim == 4 and x.shape[-1] == 1:  # (N, H, W, 1) -> (N, H, W)
        x = x[..., 0]
    if value_range is None:
        value_range = (-1, 1) if x.min() < 0 else (0, 1)
    low, high = value_range
    return np.clip((x - low) / (high - low), 0.0, 1.0)


def image_grid(images, ncols=10, row_labels=None, title=None, value_range=None, scale=1.0):
    """Images in a grid of `ncols` columns; optional text label in front of each row.

    `value_range` is (0, 1) or (-1, 1); by default it is guessed from the data.
    """
    x = _to_images(images, value_range)
    n = len(x)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"{len(row_labels)} row labels for {nrows} rows")
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols * 0.9, scale * nrows * 0.9 + 0.4 * bool(title)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        if i < n:
            ax.imshow(x[i], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    if row_labels is not None:
        for r, label in enumerate(row_labels):
            axes[r, 0].set_ylabel(str(label), rotation=0, ha="right", va="center", fontsize=10)
    if title:
        fig.suptitle(title)
    return _show(fig)


def loss_curves(history, title=None, xlabel="step", smooth=1, logy=False):
    """One line per named loss, e.g. {"d_loss": [...], "g_loss": [...]}.

    `smooth` > 1 draws a moving average over that many points next to the raw curve.
    """
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, values in history.items():
        values = np.asarray(values, dtype=np.float64)
        steps = np.arange(1, len(values) + 1)
        if smooth > 1 and len(values) >= smooth:
            line, = ax.plot(steps, values, alpha=0.25)
            kernel = np.ones(smooth) / smooth
            ax.plot(steps[smooth - 1:], np.convolve(values, kernel, mode="valid"), color=line.get_color(),
                    label=name)
        else:
            ax.plot(steps, values, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return _show(fig)


def latent_scatter(z, labels, title=None, class_names=None):
    """A 2-D latent code per point, coloured by its label (e.g. the digit)."""
    z = np.asarray(z)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(f"latent_scatter needs codes of shape (N, 2); got {z.shape}")
    labels = np.asarray(labels)
    if labels.ndim == 2:  # one-hot -> integer
        labels = labels.argmax(axis=1)
    fig, ax = plt.subplots(figsize=(6, 5))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=4, vmin=-0.5, vmax=9.5)
    bar = fig.colorbar(points, ax=ax, ticks=range(10))
    if class_names is not None:
        bar.ax.set_yticklabels(class_names)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return _show(fig)


def interpolation_strip(images, title=None, value_range=None, rows=1):
    """Images along a path (e.g. decoded from z_t = (1 - t) z_a + t z_b), left to right.

    With `rows` > 1 the images are several strips of equal length, one per row.
    """
    images = np.asarray(images)
    ncols = len(images) // rows
    return image_grid(images, ncols=ncols, title=title, value_range=value_range)


def guidance_curves(weights, accuracy, fid, step_counts, fid_steps, w_steps):
    """Lesson 14's two panels: label accuracy and FID against the guidance weight w (two y axes),
    and FID against the number of Euler steps at w = w_steps (log x axis)."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    axes[0].plot(weights, accuracy, "o-", color="tab:blue")
    axes[0].set_xlabel("guidance weight w")
    axes[0].set_ylabel("judge's label accuracy", color="tab:blue")
    twin = axes[0].twinx()
    twin.plot(weights, fid, "s--", color="tab:red")
    twin.set_ylabel("FID (lower is better)", color="tab:red")
    axes[0].set_title("the guidance trade-off")
    axes[1].plot(step_counts, fid_steps, "o-")
    axes[1].set_xscale("log")
    axes[1].set_xticks(step_counts, [str(k) for k in step_counts])
    axes[1].minorticks_off()
    axes[1].set_xlabel("Euler steps")
    axes[1].set_ylabel(f"FID at w = {w_steps:g}")
    axes[1].set_title("steps against quality")
    for ax in axes:
        ax.grid(alpha=0.3)
    return _show(fig)
