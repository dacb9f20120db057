"""The image-grid writer keeps every tile's pixels in place."""

import numpy as np
import torch
from PIL import Image

from neuralab.viz.grid import GAP, save_grid, tile


def test_tiles_sit_row_by_row_with_gaps_and_keep_their_pixels():
    images = torch.rand(5, 1, 4, 3)
    grid = tile(images, nrow=2)
    assert grid.shape == (3 * (4 + GAP) + GAP, 2 * (3 + GAP) + GAP)
    r, c = divmod(3, 2)  # the fourth image: second row, second column
    y, x = GAP + r * (4 + GAP), GAP + c * (3 + GAP)
    np.testing.assert_array_equal(grid[y:y + 4, x:x + 3], (images[3, 0] * 255).round().numpy().astype(np.uint8))
    assert (grid[-(4 + GAP):, -(3 + GAP):] == 255).all(), "the empty sixth slot stays background"


def test_rgb_grids_stay_rgb_and_the_png_is_scaled_up(tmp_path):
    images = torch.zeros(2, 3, 8, 8)
    images[:, 0] = 1.0  # red
    path = save_grid(images, tmp_path / "g.png", nrow=2)
    with Image.open(path) as png:
        assert png.mode == "RGB" and png.width == (2 * (8 + GAP) + GAP) * 7  # 8-pixel tiles scaled x7 to >= 56
        assert png.getpixel((GAP * 7 + 1, GAP * 7 + 1)) == (255, 0, 0)
