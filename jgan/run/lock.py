"""One run per workdir: `WORKDIR/run.lock` names the run holding it (host, pid, start time).

Local paths, and shared POSIX filesystems such as NFS: the file is held with `flock`, which the
kernel (or the NFS server) releases when the holder dies, however it dies. A second run fails at
once naming the holder; a lock left by a dead run is free and is taken over. The file is emptied,
never deleted, on release: deleting a flock'ed file lets two runs lock two different inodes.

Buckets (`gs://...`) have no lock primitive that epath reaches. There the holder rewrites the file
every `HEARTBEAT_S` seconds, a start refuses while the file is fresher than `STALE_S`, writes its
own token and reads it back after `SETTLE_S`, and the holder checks its token before every
checkpoint. docs/faults.md says what this does and does not guarantee.

In a multi-process job process 0 holds the lock and tells the others the outcome.
"""
import datetime
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from typing import Optional

from etils import epath

LOCK_FILE = "run.lock"
HEARTBEAT_S, STALE_S, SETTLE_S = 30.0, 120.0, 2.0


class WorkdirLocked(RuntimeError):
    """Another live run holds the workdir."""


def describe(info: dict) -> str:
    return f"host {info.get('host', '?')}, pid {info.get('pid', '?')}, started {info.get('started', '?')}"


class WorkdirLock:
    """`acquire()` / `release()` of `WORKDIR/run.lock`; `use_flock` defaults to local paths."""

    def __init__(self, workdir, use_flock: Optional[bool] = None):
        self.workdir = str(workdir)
        self.path = epath.Path(workdir) / LOCK_FILE
        self.use_flock = "://" not in self.workdir if use_flock is None else use_flock
        started = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self.info = {"host": socket.gethostname(), "pid": os.getpid(), "started": started,
                     "token": uuid.uuid4().hex}
        self._fd, self._stop, self._thread = None, threading.Event(), None

    def acquire(self) -> Optional[dict]:
        """Takes the lock; returns what a dead holder left (None if the lock was free)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        previous = self._acquire_flock() if self.use_flock else self._acquire_object()
        if previous:
            print(f"jgan: took over {self.path} from a run that ended without releasing it "
                  f"({describe(previous)})", flush=True)
        return previous or None

    def check(self) -> None:
        """Raises if another run has taken a bucket lock over (a flock cannot be taken)."""
        if not self.use_flock:
            holder = _read(self.path)
            if holder.get("token") != self.info["token"]:
                raise WorkdirLocked(f"workdir {self.workdir} was taken over by another jgan run "
                                    f"({describe(holder)}); stopping before writing a checkpoint")

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # Closing the descriptor drops the flock.
            self._fd = None
        elif not self.use_flock and _read(self.path).get("token") == self.info["token"]:
            self.path.unlink(missing_ok=True)

    def _refuse(self, holder: dict):
        raise WorkdirLocked(f"workdir {self.workdir} is in use by another jgan run "
                            f"({describe(holder)}); stop that run or use another --workdir")

    def _acquire_flock(self) -> dict:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _parse(os.pread(fd, 1 << 16, 0))
            os.close(fd)
            self._refuse(holder)
        previous = _parse(os.pread(fd, 1 << 16, 0))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(self.info).encode(), 0)
        self._fd = fd
        return previous

    def _acquire_object(self) -> dict:
        previous = _read(self.path)
        if previous and time.time() - previous.get("heartbeat", 0) < STALE_S:
            self._refuse(previous)
        self._write()
        time.sleep(SETTLE_S)  # Another start that read "free" before our write wrote after it.
        now = _read(self.path)
        if now.get("token") != self.info["token"]:
            self._refuse(now)
        self._thread = threading.Thread(target=self._beat, daemon=True, name="jgan-lock")
        self._thread.start()
        return previous

    def _write(self) -> None:
        self.path.write_text(json.dumps({**self.info, "heartbeat": time.time()}))

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if _read(self.path).get("token") == self.info["token"]:
                self._write()


def _parse(raw: bytes) -> dict:
    try:
        info = json.loads(raw.decode() or "{}")
    except (ValueError, UnicodeDecodeError):  # A torn write: someone held it, details unknown.
        return {"host": "unknown (unreadable lock file)"}
    return info if isinstance(info, dict) else {}


def _read(path: epath.Path) -> dict:
    try:
        return _parse(path.read_bytes())
    except FileNotFoundError:
        return {}


def acquire_for_job(workdir) -> Optional[WorkdirLock]:
    """Process 0 takes the lock; every process raises the same `WorkdirLocked` if it cannot."""
    import jax  # noqa: PLC0415 — the lock itself needs no JAX (tests hold it from a bare process).
    lock, message = None, ""
    if jax.process_index() == 0:
        lock = WorkdirLock(workdir)
        try:
            lock.acquire()
        except WorkdirLocked as e:
            lock, message = None, str(e)
    if jax.process_count() > 1:
        message = _broadcast_text(message)
    if message:
        raise WorkdirLocked(message)
    return lock


def _broadcast_text(text: str, size: int = 1024) -> str:
    import numpy as np  # noqa: PLC0415
    from jax.experimental import multihost_utils  # noqa: PLC0415
    raw = np.frombuffer(text.encode()[:size].ljust(size, b"\0"), np.uint8)
    return bytes(np.asarray(multihost_utils.broadcast_one_to_all(raw))).rstrip(b"\0").decode()
