"""Run logs: TensorBoard event files (written without TensorFlow), `metrics.jsonl` and PNGs.

Only process 0 writes; every other process gets a `NullWriter` with the same methods. A run that
resumes from step S first drops what a killed run logged after S (rows of `metrics.jsonl`, and
TensorBoard events through a SessionLog START at S + 1), so every step is logged exactly once.
"""
import io
import json
import os
import pathlib
import time

import jax
import numpy as np
from PIL import Image
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from jgan.run import storage


def png_bytes(image_HxWxC: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image_HxWxC.squeeze(-1) if image_HxWxC.shape[-1] == 1 else image_HxWxC).save(
        buf, format="PNG")
    return buf.getvalue()


class MetricWriter:
    """Writes scalars and images to TensorBoard, scalars also to `metrics.jsonl`."""

    def __init__(self, workdir, resume_step: int = 0):
        self.workdir = pathlib.Path(workdir)
        self.jsonl_path = self.workdir / "metrics.jsonl"
        with storage.naming(self.workdir, "starting the logs in"):
            self.workdir.mkdir(parents=True, exist_ok=True)
            truncate_jsonl(self.jsonl_path, resume_step)
            self._events = EventFileWriter(str(self.workdir / "tensorboard"))
            # TensorBoard drops every earlier event from step resume_step + 1 on (a restart).
            self._events.add_event(event_pb2.Event(
                step=resume_step + 1, wall_time=time.time(),
                session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
            self._jsonl = open(self.jsonl_path, "a")

    def scalars(self, step: int, scalars: dict) -> None:
        values = [summary_pb2.Summary.Value(tag=k, simple_value=float(v)) for k, v in scalars.items()]
        self._add(step, summary_pb2.Summary(value=values))
        self._append({"step": int(step), **{k: float(v) for k, v in scalars.items()}})

    def record(self, step: int, values: dict) -> None:
        """A `metrics.jsonl` row of non-scalar values (e.g. the protocol behind a metric)."""
        self._append({"step": int(step), **values})

    def image(self, step: int, tag: str, image_HxWxC: np.ndarray) -> None:
        h, w, c = image_HxWxC.shape
        image = summary_pb2.Summary.Image(height=h, width=w, colorspace=c,
                                          encoded_image_string=png_bytes(image_HxWxC))
        self._add(step, summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, image=image)]))

    def save_png(self, relpath: str, image_HxWxC: np.ndarray) -> pathlib.Path:
        """Writes a PNG whole or not at all (a kill mid-write leaves no torn picture)."""
        path = self.workdir / relpath
        with storage.naming(path, "writing"):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(png_bytes(image_HxWxC))
            os.replace(tmp, path)
        return path

    def flush(self) -> None:
        with storage.naming(self.workdir / "tensorboard", "writing events to"):
            self._events.flush()

    def close(self) -> None:
        with storage.naming(self.workdir, "closing the logs in"):
            self._events.close()
            self._jsonl.close()

    def _append(self, row: dict) -> None:
        with storage.naming(self.jsonl_path, "writing"):
            self._jsonl.write(json.dumps(row) + "\n")
            self._jsonl.flush()

    def _add(self, step, summary):
        with storage.naming(self.workdir / "tensorboard", "writing events to"):
            self._events.add_event(event_pb2.Event(step=int(step), wall_time=time.time(),
                                                   summary=summary))


def truncate_jsonl(path: pathlib.Path, last_step: int) -> None:
    """Keeps the rows of `path` up to `last_step`, dropping later and torn ones (atomically)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # The half-written last line of a killed run.
            continue
        if isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= last_step:
            kept.append(line + "\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(kept))
    os.replace(tmp, path)


class NullWriter:
    """What processes other than 0 write: nothing."""

    def scalars(self, step, scalars): pass
    def record(self, step, values): pass
    def image(self, step, tag, image_HxWxC): pass
    def save_png(self, relpath, image_HxWxC): pass
    def flush(self): pass
    def close(self): pass


def create(workdir, resume_step: int = 0):
    return MetricWriter(workdir, resume_step) if jax.process_index() == 0 else NullWriter()
