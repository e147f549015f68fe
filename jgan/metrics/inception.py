"""The FID Inception network (the 2015-12-05 TensorFlow graph used by TTUR, pytorch-fid and
torch-fidelity), in Flax, with its input pipeline and weight loading.

This is InceptionV3 with the TF graph's quirks, as torch-fidelity's `FeatureExtractorInceptionV3`
reproduces them: BatchNorm eps 1e-3; the 3×3 average pools inside the mixed blocks exclude the
zero padding from the mean; the last block (Mixed_7c) pools with a max instead of an average; a
1008-class head. Inputs go through TF1's bilinear resize to 299×299 (align_corners=False, no
half-pixel offset, no antialiasing) and then (x − 128) / 128, as in the graph.

Outputs: `pool` (the 2048-d pool3 features, for FID/KID/PR), `logits_unbiased` (the fc layer
without its bias: what the original Inception Score code and torch-fidelity's IS use) and
`logits` (with the bias). Weights are converted once from the published PyTorch file with
`python -m jgan.metrics.convert_inception`; see `default_weights_path`.
"""
import functools
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jgan import backend
from jgan.metrics import weights

INPUT_SIZE = 299
NUM_CLASSES = 1008
WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
               + WEIGHTS_FILE)
# Generators output [-1, 1]; allow float rounding from e.g. x / 127.5 - 1 and nothing more.
RANGE_TOLERANCE = 1e-6


class BasicConv(nn.Module):
    """Convolution without bias, inference BatchNorm (eps 1e-3), ReLU."""
    features: int
    kernel: tuple[int, int]
    strides: int = 1
    padding: tuple[int, int] = (0, 0)
    precision: lax.Precision | None = None

    @nn.compact
    def __call__(self, x):
        (p_h, p_w), s = self.padding, self.strides
        x = nn.Conv(self.features, self.kernel, (s, s), ((p_h, p_h), (p_w, p_w)), use_bias=False,
                    precision=self.precision, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _avg_pool_3x3(x):
    # TF's average pool divides by the number of real (unpadded) pixels in the window.
    return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_s2(x):
    return nn.max_pool(x, (3, 3), (2, 2), "VALID")


class _Block(nn.Module):
    """Base of the mixed blocks: `conv(name, ...)` makes a named BasicConv child."""
    precision: lax.Precision | None = None

    def conv(self, name, *args, **kwargs):
        return BasicConv(*args, precision=self.precision, name=name, **kwargs)


class BlockA(_Block):  # Mixed_5b..5d (35×35).
    pool_features: int = 32

    @nn.compact
    def __call__(self, x):
        c = self.conv
        b1 = c("branch1x1", 64, (1, 1))(x)
        b5 = c("branch5x5_1", 48, (1, 1))(x)
        b5 = c("branch5x5_2", 64, (5, 5), padding=(2, 2))(b5)
        b3 = c("branch3x3dbl_1", 64, (1, 1))(x)
        b3 = c("branch3x3dbl_2", 96, (3, 3), padding=(1, 1))(b3)
        b3 = c("branch3x3dbl_3", 96, (3, 3), padding=(1, 1))(b3)
        bp = c("branch_pool", self.pool_features, (1, 1))(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class BlockB(_Block):  # Mixed_6a: 35×35 -> 17×17.
    @nn.compact
    def __call__(self, x):
        c = self.conv
        b3 = c("branch3x3", 384, (3, 3), 2)(x)
        bd = c("branch3x3dbl_1", 64, (1, 1))(x)
        bd = c("branch3x3dbl_2", 96, (3, 3), padding=(1, 1))(bd)
        bd = c("branch3x3dbl_3", 96, (3, 3), 2)(bd)
        return jnp.concatenate([b3, bd, _max_pool_3x3_s2(x)], axis=-1)


class BlockC(_Block):  # Mixed_6b..6e (17×17), factorised 7×7.
    channels_7x7: int = 128

    @nn.compact
    def __call__(self, x):
        c, c7 = self.conv, self.channels_7x7
        b1 = c("branch1x1", 192, (1, 1))(x)
        b7 = c("branch7x7_1", c7, (1, 1))(x)
        b7 = c("branch7x7_2", c7, (1, 7), padding=(0, 3))(b7)
        b7 = c("branch7x7_3", 192, (7, 1), padding=(3, 0))(b7)
        bd = c("branch7x7dbl_1", c7, (1, 1))(x)
        bd = c("branch7x7dbl_2", c7, (7, 1), padding=(3, 0))(bd)
        bd = c("branch7x7dbl_3", c7, (1, 7), padding=(0, 3))(bd)
        bd = c("branch7x7dbl_4", c7, (7, 1), padding=(3, 0))(bd)
        bd = c("branch7x7dbl_5", 192, (1, 7), padding=(0, 3))(bd)
        bp = c("branch_pool", 192, (1, 1))(_avg_pool_3x3(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class BlockD(_Block):  # Mixed_7a: 17×17 -> 8×8.
    @nn.compact
    def __call__(self, x):
        c = self.conv
        b3 = c("branch3x3_1", 192, (1, 1))(x)
        b3 = c("branch3x3_2", 320, (3, 3), 2)(b3)
        b7 = c("branch7x7x3_1", 192, (1, 1))(x)
        b7 = c("branch7x7x3_2", 192, (1, 7), padding=(0, 3))(b7)
        b7 = c("branch7x7x3_3", 192, (7, 1), padding=(3, 0))(b7)
        b7 = c("branch7x7x3_4", 192, (3, 3), 2)(b7)
        return jnp.concatenate([b3, b7, _max_pool_3x3_s2(x)], axis=-1)


class BlockE(_Block):  # Mixed_7b, 7c (8×8), split 3×3 branches.
    max_pool: bool = False

    @nn.compact
    def __call__(self, x):
        c = self.conv
        b1 = c("branch1x1", 320, (1, 1))(x)
        b3 = c("branch3x3_1", 384, (1, 1))(x)
        b3 = jnp.concatenate([c("branch3x3_2a", 384, (1, 3), padding=(0, 1))(b3),
                              c("branch3x3_2b", 384, (3, 1), padding=(1, 0))(b3)], axis=-1)
        bd = c("branch3x3dbl_1", 448, (1, 1))(x)
        bd = c("branch3x3dbl_2", 384, (3, 3), padding=(1, 1))(bd)
        bd = jnp.concatenate([c("branch3x3dbl_3a", 384, (1, 3), padding=(0, 1))(bd),
                              c("branch3x3dbl_3b", 384, (3, 1), padding=(1, 0))(bd)], axis=-1)
        # The TF graph's last block max-pools here, where every other InceptionV3 averages.
        # Inputs are post-ReLU, so -inf and 0 padding give the same maximum.
        pooled = (nn.max_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1))) if self.max_pool
                  else _avg_pool_3x3(x))
        bp = c("branch_pool", 192, (1, 1))(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class Head(nn.Module):
    """The 1008-way fc layer; returns (x W, x W + b)."""
    precision: lax.Precision | None = None

    @nn.compact
    def __call__(self, x):
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], NUM_CLASSES))
        bias = self.param("bias", nn.initializers.zeros, (NUM_CLASSES,))
        # The Inception Score's logits are the product alone (no bias), as in the original code.
        unbiased = jnp.dot(x, kernel, precision=self.precision)
        return unbiased, unbiased + bias


class InceptionV3(nn.Module):
    """FID InceptionV3 on [B, 299, 299, 3] images in [0, 255] (see `preprocess`).

    Returns {"pool": [B, 2048], "logits_unbiased": [B, 1008], "logits": [B, 1008]}. Parameter
    names mirror the PyTorch module's (`Mixed_5b/branch1x1/conv/kernel`, ...). `precision`
    defaults to HIGHEST: on TPU (bf16 passes) and GPU (TF32) the default moves the features by
    ~1e-3 relative, too much for numbers compared with published ones; on CPU it costs nothing.
    """
    precision: lax.Precision | None = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x):
        p = self.precision
        conv = functools.partial(BasicConv, precision=p)
        x = (x - 128.0) / 128.0  # The graph multiplies by 1/128: the same value, exactly.
        x = conv(32, (3, 3), 2, name="Conv2d_1a_3x3")(x)
        x = conv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = conv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = conv(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = conv(192, (3, 3), name="Conv2d_4a_3x3")(x)
        x = _max_pool_3x3_s2(x)
        x = BlockA(p, 32, name="Mixed_5b")(x)
        x = BlockA(p, 64, name="Mixed_5c")(x)
        x = BlockA(p, 64, name="Mixed_5d")(x)
        x = BlockB(p, name="Mixed_6a")(x)
        x = BlockC(p, 128, name="Mixed_6b")(x)
        x = BlockC(p, 160, name="Mixed_6c")(x)
        x = BlockC(p, 160, name="Mixed_6d")(x)
        x = BlockC(p, 192, name="Mixed_6e")(x)
        x = BlockD(p, name="Mixed_7a")(x)
        x = BlockE(p, False, name="Mixed_7b")(x)
        x = BlockE(p, True, name="Mixed_7c")(x)
        pool = x.mean(axis=(1, 2))
        unbiased, logits = Head(p, name="fc")(pool)
        return {"pool": pool, "logits_unbiased": unbiased, "logits": logits}


# ---------------------------------------------------------------------------------------------
# Input pipeline.

def check_images(images):
    """Raises ValueError unless `images` is float [N, H, W, 1 or 3] with values in [-1, 1].

    Values may overshoot [-1, 1] by RANGE_TOLERANCE (float rounding); they are used unclipped.
    """
    shape, dtype = tuple(images.shape), np.dtype(images.dtype)
    if len(shape) != 4:
        raise ValueError(f"images must be 4-D [N, H, W, C]; got shape {shape}")
    if shape[3] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels (NHWC); got {shape[3]} "
                         f"in shape {shape}")
    if not np.issubdtype(dtype, np.floating) and dtype.name != "bfloat16":
        raise ValueError(f"images must be floating point in [-1, 1]; got dtype {dtype}")
    if images.size:
        lo, hi = float(images.min()), float(images.max())
        # Written so that NaN fails too.
        if not (lo >= -1 - RANGE_TOLERANCE and hi <= 1 + RANGE_TOLERANCE):
            raise ValueError(f"images must be in [-1, 1]; found min {lo:.7g}, max {hi:.7g}")
    return images


def _resize_taps(n_in: int, n_out: int):
    """TF1 bilinear sample positions (align_corners=False, no half-pixel offset), as numpy.

    Computed in float32 exactly as the reference does: position = i * float32(n_in / n_out).
    """
    grid = np.arange(n_out, dtype=np.float32) * np.float32(n_in / n_out)
    lo = grid.astype(np.int32)  # Truncation is floor here: positions are >= 0.
    hi = np.minimum(lo + 1, n_in - 1)
    return lo, hi, grid - lo.astype(np.float32)


def resize_bilinear_tf1(x, size: int = INPUT_SIZE):
    """[N, H, W, C] -> [N, size, size, C], TF1's `resize_bilinear(align_corners=False)`.

    The same operations in the same order as torch-fidelity's "slow" (epsilon-exact) path.
    """
    if x.shape[1:3] == (size, size):
        return x  # The positions are exactly 0, 1, 2, ... with zero fractions: the identity.
    h_lo, h_hi, h_frac = _resize_taps(x.shape[1], size)
    w_lo, w_hi, w_frac = _resize_taps(x.shape[2], size)
    w_frac = jnp.asarray(w_frac)[None, None, :, None]

    def across(rows):
        left, right = rows[:, :, w_lo], rows[:, :, w_hi]
        return left + (right - left) * w_frac

    top, bottom = across(x[:, h_lo]), across(x[:, h_hi])
    return top + (bottom - top) * jnp.asarray(h_frac)[None, :, None, None]


def to_network_input(images):
    """Unchecked, traceable part of `preprocess`: [-1, 1] NHWC -> [N, 299, 299, 3] in [0, 255]."""
    # The reference takes uint8. x -> (x + 1) * 127.5 is its range, deliberately *not* rounded
    # to integers: generator outputs are continuous and rounding would only add noise. Images
    # that came from uint8 (x = u / 127.5 - 1) map back to u up to float rounding.
    x = (images.astype(jnp.float32) + 1.0) * 127.5
    x = resize_bilinear_tf1(x)  # Per channel, so resizing before tiling gray is the same.
    if x.shape[-1] == 1:
        x = jnp.tile(x, (1, 1, 1, 3))
    return x


def preprocess(images):
    """Images in [-1, 1], NHWC with 1 or 3 channels -> the network's [N, 299, 299, 3] input."""
    return to_network_input(jnp.asarray(check_images(images)))


# ---------------------------------------------------------------------------------------------
# Weights.

def default_weights_path() -> pathlib.Path:
    """`$XDG_CACHE_HOME/jgan/inception_fid.npz`, `~/.cache/...` when the variable is unset."""
    return weights.cache_dir() / "inception_fid.npz"


@functools.cache
def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Flat name ("params/Mixed_5b/branch1x1/conv/kernel", ...) -> shape, in network order."""
    variables = jax.eval_shape(InceptionV3().init, jax.random.key(0),
                               jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32))
    return weights.shapes(variables)


def _how_to_make(path) -> str:
    return (f"download {WEIGHTS_URL} and convert it: "
            f"python -m jgan.metrics.convert_inception --torch {WEIGHTS_FILE} --out {path}")


def load_params(path=None) -> dict:
    """Converted weights -> Flax variables {"params": ..., "batch_stats": ...}."""
    path = pathlib.Path(path) if path is not None else default_weights_path()
    return weights.load_npz(path, expected_shapes(), _how_to_make(path))


def weights_hash(path=None) -> str:
    """sha256 of the weights file, hex: a key for cached reference statistics."""
    path = pathlib.Path(path) if path is not None else default_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"FID Inception weights not found at {path}; {_how_to_make(path)}")
    return weights.file_hash(path)


# ---------------------------------------------------------------------------------------------
# Features.

def features_fn(params=None, batch_size: int = 50, precision=lax.Precision.HIGHEST,
                devices=None):
    """A function images [N, H, W, 1|3] in [-1, 1] -> (pool [N, 2048], logits [N, 1008]).

    `logits` are the unbiased ones the Inception Score uses. The forward pass is one `jax.jit`
    over a 1-D mesh of `devices` (default: all): each step takes `batch_size` images per device,
    sharded along the batch (`NamedSharding`), with the weights replicated; the last step is
    zero-padded and the padding dropped, so any N costs one compilation per image shape.

    In a job of several processes each passes its own share of the images — the same number on
    every process — and gets back everyone's features, in process order: the outputs stay on the
    devices until the end and are gathered once. Outputs are float32 numpy arrays. `params` are
    the variables from `load_params` (by default, loaded from `default_weights_path()`).
    """
    variables = params if params is not None else load_params()
    devices = sorted(devices or jax.devices(), key=lambda d: (d.process_index, d.id))
    mesh = Mesh(np.array(devices), ("data",))
    by_row, replicated = NamedSharding(mesh, P("data")), NamedSharding(mesh, P())
    variables = jax.tree.map(lambda x: _replicate(np.asarray(x), replicated), variables)
    model = InceptionV3(precision)
    local_batch = batch_size * sum(d.process_index == jax.process_index() for d in devices)

    # On CPU, jgan's XLA:CPU options (jgan.cpu.options) as for the training step: they about
    # double this network's speed there (docs/results.md); elsewhere none.
    @functools.partial(jax.jit, out_shardings=(by_row, by_row),
                       compiler_options=backend.compiler_options(devices[0].platform))
    def forward(variables, batch):
        out = model.apply(variables, to_network_input(batch))
        return out["pool"], out["logits_unbiased"]

    def run(images):
        if not isinstance(images, (np.ndarray, jax.Array)):
            images = np.asarray(images)
        check_images(images)
        n = images.shape[0]
        outputs = []
        for start in range(0, n, local_batch):
            chunk = np.asarray(images[start:start + local_batch], np.float32)
            chunk = np.pad(chunk, ((0, local_batch - len(chunk)),) + ((0, 0),) * 3)
            batch = jax.make_array_from_process_local_data(by_row, chunk)
            outputs.append(forward(variables, batch))  # Asynchronous: steps queue up.
        pool = _gather([p for p, _ in outputs], n, local_batch, 2048)
        logits = _gather([l for _, l in outputs], n, local_batch, NUM_CLASSES)
        return pool, logits

    return run


def _replicate(x: np.ndarray, sharding):
    return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def _gather(outputs, n: int, local_batch: int, width: int) -> np.ndarray:
    """Per-step global outputs [P · local_batch, D] -> [P · n, D]: every process's `n` rows in
    process order, fetched from the devices in one transfer (one all-gather across processes)."""
    if not outputs:
        return np.zeros((0, width), np.float32)
    stacked = jnp.stack(outputs)  # [steps, P · local_batch, D], still sharded.
    if jax.process_count() > 1:
        stacked = multihost_utils.process_allgather(stacked, tiled=True)
    rows = np.asarray(stacked, np.float32)
    rows = rows.reshape(len(outputs), -1, local_batch, width)  # [steps, P, local_batch, D]
    return rows.transpose(1, 0, 2, 3).reshape(rows.shape[1], -1, width)[:, :n].reshape(-1, width)
