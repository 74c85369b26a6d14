"""The plots show the data they are given (pixel values, curve values, colours), not just 'a figure'."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plotting


def shown_images(fig):
    return [ax.images[0].get_array() for ax in fig.axes if ax.images]


def test_image_grid_rescales_minus_one_one_and_labels_rows():
    x = np.linspace(-1, 1, 6 * 784, dtype=np.float32).reshape(6, 784)  # flat, in [-1, 1]
    fig = plotting.image_grid(x, ncols=3, row_labels=["a", "b"], title="t")
    images = shown_images(fig)
    assert len(images) == 6 and len(fig.axes) == 6
    np.testing.assert_allclose(images[5], ((x[5] + 1) / 2).reshape(28, 28), atol=1e-6)
    assert [fig.axes[0].get_ylabel(), fig.axes[3].get_ylabel()] == ["a", "b"]
    plt.close(fig)


def test_image_grid_rejects_wrong_number_of_row_labels():
    with pytest.raises(ValueError, match="row labels"):
        plotting.image_grid(np.zeros((4, 28, 28, 1)), ncols=2, row_labels=["only one"])


def test_loss_curves_draw_each_named_loss_with_its_values():
    history = {"d_loss": [1.0, 0.5, 0.25], "g_loss": [2.0, 3.0, 4.0]}
    fig = plotting.loss_curves(history)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_array_equal(lines["g_loss"].get_ydata(), [2.0, 3.0, 4.0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["d_loss", "g_loss"]
    plt.close(fig)


def test_latent_scatter_colours_points_by_label_and_accepts_one_hot():
    z = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    fig = plotting.latent_scatter(z, np.eye(10)[[3, 1, 7]])
    points = fig.axes[0].collections[0]
    np.testing.assert_array_equal(points.get_offsets(), z)
    np.testing.assert_array_equal(points.get_array(), [3, 1, 7])
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plotting.latent_scatter(np.zeros((3, 5)), [0, 1, 2])


def test_interpolation_strip_keeps_order_left_to_right():
    frames = np.stack([np.full((28, 28, 1), v, np.float32) for v in np.linspace(0, 1, 5)])
    fig = plotting.interpolation_strip(frames)
    means = [img.mean() for img in shown_images(fig)]
    np.testing.assert_allclose(means, np.linspace(0, 1, 5), atol=1e-6)
    plt.close(fig)


def test_guidance_curves_plot_accuracy_fid_and_steps_with_their_values():
    fig = plotting.guidance_curves([0, 1, 2, 4], [0.5, 0.9, 0.97, 0.99], [30.0, 12.0, 15.0, 25.0],
                                   [2, 5, 10], [40.0, 20.0, 15.0], w_steps=2)
    accuracy_axis, steps_axis, fid_axis = fig.axes  # the twin axis is added last
    np.testing.assert_allclose(accuracy_axis.lines[0].get_ydata(), [0.5, 0.9, 0.97, 0.99])
    np.testing.assert_allclose(fid_axis.lines[0].get_ydata(), [30.0, 12.0, 15.0, 25.0])
    np.testing.assert_allclose(fid_axis.lines[0].get_xdata(), [0, 1, 2, 4])
    np.testing.assert_allclose(steps_axis.lines[0].get_xdata(), [2, 5, 10])
    np.testing.assert_allclose(steps_axis.lines[0].get_ydata(), [40.0, 20.0, 15.0])
    assert steps_axis.get_xscale() == "log" and steps_axis.get_ylabel() == "FID at w = 2"
    plt.close(fig)
