"""Run logs: TensorBoard event files (written without TensorFlow), `metrics.jsonl` and PNGs.

Only process 0 writes; every other process gets a `NullWriter` with the same methods.
"""
import io
import json
import pathlib
import time

import jax
import numpy as np
from PIL import Image
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter


def png_bytes(image_HxWxC: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image_HxWxC.squeeze(-1) if image_HxWxC.shape[-1] == 1 else image_HxWxC).save(
        buf, format="PNG")
    return buf.getvalue()


class MetricWriter:
    """Writes scalars and images to TensorBoard, scalars also to `metrics.jsonl`."""

    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._events = EventFileWriter(str(self.workdir / "tensorboard"))
        self._jsonl = open(self.workdir / "metrics.jsonl", "a")

    def scalars(self, step: int, scalars: dict) -> None:
        values = [summary_pb2.Summary.Value(tag=k, simple_value=float(v)) for k, v in scalars.items()]
        self._add(step, summary_pb2.Summary(value=values))
        self._jsonl.write(json.dumps({"step": int(step), **{k: float(v) for k, v in scalars.items()}})
                          + "\n")
        self._jsonl.flush()

    def record(self, step: int, values: dict) -> None:
        """A `metrics.jsonl` row of non-scalar values (e.g. the protocol behind a metric)."""
        self._jsonl.write(json.dumps({"step": int(step), **values}) + "\n")
        self._jsonl.flush()

    def image(self, step: int, tag: str, image_HxWxC: np.ndarray) -> None:
        h, w, c = image_HxWxC.shape
        image = summary_pb2.Summary.Image(height=h, width=w, colorspace=c,
                                          encoded_image_string=png_bytes(image_HxWxC))
        self._add(step, summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, image=image)]))

    def save_png(self, relpath: str, image_HxWxC: np.ndarray) -> pathlib.Path:
        path = self.workdir / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(image_HxWxC))
        return path

    def flush(self) -> None:
        self._events.flush()

    def close(self) -> None:
        self._events.close()
        self._jsonl.close()

    def _add(self, step, summary):
        self._events.add_event(event_pb2.Event(step=int(step), wall_time=time.time(), summary=summary))


class NullWriter:
    """What processes other than 0 write: nothing."""

    def scalars(self, step, scalars): pass
    def record(self, step, values): pass
    def image(self, step, tag, image_HxWxC): pass
    def save_png(self, relpath, image_HxWxC): pass
    def flush(self): pass
    def close(self): pass


def create(workdir):
    return MetricWriter(workdir) if jax.process_index() == 0 else NullWriter()
