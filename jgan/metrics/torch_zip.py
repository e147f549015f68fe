"""Reading a PyTorch checkpoint of tensors without PyTorch, and without unpickling anything else.

`torch.save` writes either a zip (PyTorch ≥ 1.6: `<archive>/data.pkl`, one `<archive>/data/<key>`
file of raw little-endian bytes per storage, `<archive>/byteorder`) or the legacy stream (pickles
of a magic number, a protocol version and system info, the object, the sorted storage keys, then
each storage as an int64 element count and its bytes). In both, the object's pickle names tensors
as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and storages by a
persistent id `("storage", torch.FloatStorage, key, location, numel)`.

`load` unpickles with an allow-list: `collections.OrderedDict`, the tensor and parameter rebuild
functions and the typed storage classes, each replaced by a numpy equivalent. Any other global in
the pickle — the way a crafted checkpoint runs code — is refused in one line, before it is called.
"""
import collections
import io
import pathlib
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np

STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """Stands in for `torch.FloatStorage` & co. in a persistent id: just the dtype."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """numpy's `torch._utils._rebuild_tensor_v2`: a strided view of the storage (copied by
    `load` once every storage is filled: the legacy format stores the bytes after the pickle)."""
    size, stride = tuple(int(n) for n in size), tuple(int(s) for s in stride)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else -1
    if storage_offset < 0 or min(stride, default=0) < 0 or last >= len(storage):
        raise pickle.UnpicklingError(f"tensor of size {size}, stride {stride} at offset "
                                     f"{storage_offset} runs past its storage of {len(storage)} "
                                     f"elements")
    return np.lib.stride_tricks.as_strided(
        storage[storage_offset:], size, [s * storage.itemsize for s in stride], writeable=False)


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class _Unpickler(pickle.Unpickler):
    """Resolves only the allowed globals; storages come from `load_storage(type, key, numel)`."""

    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refused to unpickle {module}.{name}: only tensors, "
                                         f"storages and OrderedDict are allowed")
        return _ALLOWED[(module, name)]

    def persistent_load(self, pid):
        if (not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage"
                or not isinstance(pid[1], _StorageType) or (len(pid) > 5 and pid[5] is not None)):
            raise pickle.UnpicklingError(f"unsupported persistent id {str(pid)[:80]}; expected "
                                         f"('storage', <torch storage type>, key, location, numel)")
        return self._load_storage(pid[1].dtype, str(pid[2]), int(pid[4]))


def _from_bytes(raw: bytes, dtype, numel: int, where: str, order: str = "<") -> np.ndarray:
    dtype = np.dtype(dtype).newbyteorder(order) if np.dtype(dtype).itemsize > 1 else np.dtype(dtype)
    if len(raw) < numel * dtype.itemsize:
        raise pickle.UnpicklingError(f"storage {where} has {len(raw)} bytes; expected "
                                     f"{numel * dtype.itemsize} (truncated)")
    return np.frombuffer(raw, dtype, numel).astype(dtype.newbyteorder("="))


def _load_zip(file: zipfile.ZipFile):
    names = file.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if len(pickles) != 1:
        raise pickle.UnpicklingError(f"{len(pickles)} data.pkl files in the zip; expected 1")
    prefix = pickles[0][:-len("data.pkl")]
    order = file.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names \
        else "little"
    cache = {}

    def load_storage(dtype, key, numel):
        if key not in cache:
            if prefix + f"data/{key}" not in names:
                raise pickle.UnpicklingError(f"storage data/{key} is missing from the zip")
            raw = file.read(prefix + f"data/{key}")
            cache[key] = _from_bytes(raw, dtype, numel, key, "<" if order == "little" else ">")
        return cache[key]

    return _Unpickler(io.BytesIO(file.read(pickles[0])), load_storage).load()


def _no_storage(*unused):
    raise pickle.UnpicklingError("a storage in a header pickle")


def _load_legacy(stream):
    """The pre-zip format: header pickles, the object, its storage keys, then the storages."""
    def header():  # Plain values, but through the restricted unpickler too.
        return _Unpickler(stream, _no_storage).load()

    if header() != LEGACY_MAGIC:
        raise pickle.UnpicklingError("not a PyTorch checkpoint (no zip, no legacy magic number)")
    header()  # The protocol version.
    sys_info = header()
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian", False)):
        raise pickle.UnpicklingError("legacy checkpoint written big-endian or without system info")
    wanted = {}

    def load_storage(dtype, key, numel):
        wanted.setdefault(key, [dtype, numel, np.zeros(numel, dtype)])
        return wanted[key][2]  # Filled in place below, once the bytes are read.

    obj = _Unpickler(stream, load_storage).load()
    keys = _Unpickler(stream, load_storage).load()
    for key in keys:
        (numel,) = struct.unpack("<q", stream.read(8) or b"\0" * 8)
        if key not in wanted:
            raise pickle.UnpicklingError(f"storage {key} is not used by the checkpoint's object")
        dtype, expected, array = wanted[key]
        array[...] = _from_bytes(stream.read(numel * np.dtype(dtype).itemsize), dtype, expected, key)
    return obj


def _owned(obj):
    """`obj` with every array view replaced by a copy that owns its memory."""
    if isinstance(obj, np.ndarray):
        return np.array(obj)
    if isinstance(obj, dict):
        return type(obj)((k, _owned(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_owned(v) for v in obj)
    return obj


def load(path):
    """The object `torch.save` wrote to `path`, with every tensor as a numpy array."""
    path = pathlib.Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as file:
                return _owned(_load_zip(file))
        with open(path, "rb") as stream:
            return _owned(_load_legacy(stream))
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, TypeError,
            AttributeError, IndexError, KeyError, struct.error) as e:
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ValueError(f"{path}: not a PyTorch checkpoint of tensors ({message})") from None


def load_state_dict(path) -> dict[str, np.ndarray]:
    """A state dict (name -> array) from `path`; anything else fails in one line."""
    obj = load(path)
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, np.ndarray)
                                            for k, v in obj.items()):
        raise ValueError(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors")
    return dict(obj)
