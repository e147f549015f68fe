"""Pictures of samples: image grids and 2-D scatter plots, as uint8 arrays (PIL, no matplotlib),
and an animation of a run's sample grids."""
import math
import pathlib
import re

import numpy as np
from PIL import Image, ImageDraw

MIN_SIZE = 64  # Grid cells are upscaled to at least this many pixels a side, to be seen.


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] -> uint8 in [0, 255]."""
    return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def upscale(images_NxHxWxC: np.ndarray, min_size: int = MIN_SIZE) -> np.ndarray:
    """Each image repeated by the smallest integer factor that makes its sides >= `min_size`
    (nearest neighbour: no smoothing the generator did not draw)."""
    factor = max(1, math.ceil(min_size / min(images_NxHxWxC.shape[1:3])))
    return images_NxHxWxC.repeat(factor, axis=1).repeat(factor, axis=2)


def image_grid(images_NxHxWxC: np.ndarray, cols: int = 8, pad: int = 2,
               min_size: int = MIN_SIZE) -> np.ndarray:
    """Tiles images in [-1, 1] into one uint8 picture, `cols` per row, separated by `pad` pixels,
    each upscaled to at least `min_size` pixels a side."""
    images = upscale(to_uint8(images_NxHxWxC), min_size)
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


def sample_pngs(workdir) -> list[pathlib.Path]:
    """The fixed-z grids a run wrote (`samples/step_NNNNNN.png`), in step order."""
    pngs = sorted(pathlib.Path(workdir, "samples").glob("step_*.png"),
                  key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if not pngs:
        raise FileNotFoundError(f"no samples/step_*.png in {workdir}; `jgan train` writes them "
                                f"every sample_every steps")
    return pngs


def gif(pngs, out, seconds_per_frame: float = 0.5) -> pathlib.Path:
    """An animated GIF of `pngs`, one frame each, its step written above it; loops forever."""
    frames = []
    for path in map(pathlib.Path, pngs):
        image = Image.open(path).convert("RGB")
        frame = Image.new("RGB", (image.width, image.height + 14), "white")
        frame.paste(image, (0, 14))
        ImageDraw.Draw(frame).text((2, 1), f"step {int(re.sub(r'[^0-9]', '', path.stem))}",
                                   fill=(0, 0, 0))
        frames.append(frame)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(out, save_all=True, append_images=frames[1:], loop=0,
                   duration=int(seconds_per_frame * 1000))
    return out
