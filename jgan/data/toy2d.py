"""2-D toy data for mode-collapse studies: mixtures of Gaussians as seeded infinite streams.

`ring`: 8 Gaussians on a circle of radius 1, std 0.01. `grid`: 25 Gaussians at {-4,-2,0,2,4}²,
std 0.05 (the VEEGAN / PacGAN benchmarks).
"""
import numpy as np

_STD = {"ring": 0.01, "grid": 0.05}


def modes(name: str):
    """(mode centres [K, 2], std) of the toy dataset `name`."""
    if name == "ring":
        angles = np.arange(8) * (2 * np.pi / 8)
        return np.stack([np.cos(angles), np.sin(angles)], axis=-1), _STD[name]
    if name == "grid":
        xs = np.arange(-4.0, 5.0, 2.0)
        return np.stack(np.meshgrid(xs, xs, indexing="ij"), axis=-1).reshape(-1, 2), _STD[name]
    raise ValueError(f"unknown 2-D dataset {name!r}; expected one of {sorted(_STD)}")


def sample(name: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` points [n, 2] float32: a uniformly chosen mode plus Gaussian noise."""
    centres, std = modes(name)
    return (centres[rng.integers(0, len(centres), n)] + std * rng.standard_normal((n, 2))).astype(np.float32)


class Stream:
    """Infinite batches {"image": [B, 2]}; batch k is a function of (seed, k) only.

    Every process draws the same global batch and keeps its own rows, so a run sees the same
    data whatever its process count. The state is the number of batches drawn.
    """

    def __init__(self, name: str, batch_size: int, seed: int, process_index: int = 0,
                 process_count: int = 1):
        modes(name)
        self.name, self.batch_size, self.seed = name, batch_size, seed
        self.process_index, self.process_count = process_index, process_count
        self.step = 0

    def __iter__(self):
        return self

    def __next__(self) -> dict:
        rng = np.random.default_rng([self.seed, self.step])
        points = sample(self.name, rng, self.batch_size * self.process_count)
        self.step += 1
        start = self.process_index * self.batch_size
        return {"image": points[start:start + self.batch_size]}

    def get_state(self) -> dict:
        return {"step": self.step}

    def set_state(self, state: dict) -> None:
        self.step = int(state["step"])
