"""Pictures of samples: image grids and 2-D scatter plots, as uint8 arrays (PIL, no matplotlib)."""
import numpy as np
from PIL import Image, ImageDraw


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] -> uint8 in [0, 255]."""
    return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images_NxHxWxC: np.ndarray, cols: int = 8, pad: int = 2) -> np.ndarray:
    """Tiles images in [-1, 1] into one uint8 picture, `cols` per row, separated by `pad` pixels."""
    images = to_uint8(images_NxHxWxC)
    n, h, w, c = images.shape
    rows = -(-n // cols)
    grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = image
    return grid


def scatter(points_Nx2: np.ndarray, centres_Kx2: np.ndarray = None, size: int = 512,
            extent: float = None) -> np.ndarray:
    """Scatter plot of 2-D samples (blue) over the data's mode centres (red rings), uint8 RGB."""
    points = np.asarray(points_Nx2, np.float64)
    ref = points if centres_Kx2 is None else np.asarray(centres_Kx2, np.float64)
    extent = extent or 1.25 * float(np.abs(ref).max() or 1.0)
    to_px = lambda xy: ((xy + extent) / (2 * extent) * (size - 1)) * np.array([1, -1]) + [0, size - 1]
    canvas = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(canvas)
    draw.line([(size // 2, 0), (size // 2, size)], fill=(220, 220, 220))
    draw.line([(0, size // 2), (size, size // 2)], fill=(220, 220, 220))
    for x, y in to_px(points):
        draw.rectangle((x - 1, y - 1, x + 1, y + 1), fill=(31, 119, 180))
    if centres_Kx2 is not None:
        for x, y in to_px(np.asarray(centres_Kx2, np.float64)):
            draw.ellipse((x - 6, y - 6, x + 6, y + 6), outline=(214, 39, 40), width=2)
    return np.asarray(canvas)
