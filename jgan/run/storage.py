"""A full disk under the workdir: one error that names the path, whatever layer hit it.

Python's own `OSError(ENOSPC)` from a write names no file; Orbax raises it from a background
thread, TensorStore as a ValueError whose text says "No space left on device". `naming` turns all
of them into a `DiskFull` that says where and what was being written.
"""
import contextlib
import errno


class DiskFull(OSError):
    """A write under the workdir failed for lack of space; the message names the path and, once
    `hinting` or `naming` gave one, what the user can do."""
    hinted = False


def is_disk_full(error: BaseException) -> bool:
    """True if `error`, or any exception it was raised from, is a full disk."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, DiskFull) or getattr(error, "errno", None) == errno.ENOSPC:
            return True
        if "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False


@contextlib.contextmanager
def naming(path, doing: str, hint=""):
    """Re-raises a full disk inside the block as `DiskFull` naming `path` and what was `doing`;
    `hint` (a string, or a function called then) says what the user can do."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as e:  # noqa: BLE001 — the storage layers raise several types for ENOSPC.
        if not is_disk_full(e):
            raise
        raise _hinted(f"no space left on device {doing} {path}", hint) from e


@contextlib.contextmanager
def hinting(hint):
    """Adds `hint` to a `DiskFull` from inside the block that does not say what to do yet (a
    sample PNG or log line that filled the disk: the user needs the checkpoint to resume from)."""
    try:
        yield
    except DiskFull as e:
        if e.hinted:
            raise
        raise _hinted(str(e), hint) from e


def _hinted(message: str, hint) -> DiskFull:
    try:
        hint = hint() if callable(hint) else hint
    except Exception:  # noqa: BLE001 — a hint must not hide the error it explains.
        hint = ""
    error = DiskFull(f"{message}; {hint}" if hint else message)
    error.hinted = bool(hint)
    return error
