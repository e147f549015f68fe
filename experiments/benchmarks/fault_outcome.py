"""What the fault soak reads from a workdir (experiments/benchmarks/fault_soak.py): committed
checkpoints and their arrays, metrics.jsonl rows, TensorBoard steps, and the comparison of a chain
with the uninterrupted reference; also how it damages files and mounts a tmpfs."""
import collections
import json
import pathlib
import random
import subprocess
import tempfile

import numpy as np


def committed(workdir) -> list[int]:
    directory = pathlib.Path(workdir) / "checkpoints"
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) \
        if directory.exists() else []


def damage(path: pathlib.Path, how: str, rng: random.Random) -> None:
    raw = bytearray(path.read_bytes())
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(bytes(raw[: rng.randrange(len(raw))] if raw else b""))
    elif how == "zero":
        path.write_bytes(bytes(len(raw)))
    else:
        for _ in range(rng.randint(1, 4)):
            if raw:
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(raw))


def mount(directory, size: int) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                   check=True, capture_output=True)


def can_mount(root: pathlib.Path) -> bool:
    probe = root / "probe"
    probe.mkdir()
    try:
        mount(probe, 1 << 20)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False
    subprocess.run(["umount", str(probe)], check=False)
    return True


def can_mount_here() -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        return can_mount(pathlib.Path(tmp))


def read_checkpoint(workdir, step: int):
    """({path tuple: numpy array}, data state) of a checkpoint, read without a template."""
    import jax  # noqa: PLC0415 — the soak's own process reads checkpoints only at the end.
    import orbax.checkpoint as ocp  # noqa: PLC0415
    from jgan.run import checkpoint  # noqa: PLC0415
    manager = checkpoint.read_only_manager(workdir)
    try:
        meta = manager.item_metadata(step)["state"]
        restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), meta)
        restored = manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.PyTreeRestore(restore_args=restore_args), data=ocp.args.JsonRestore()))
    finally:
        manager.close()
    return dict(jax.tree_util.tree_flatten_with_path(restored.state)[0]), restored.data


def tensor_names(arrays) -> list[str]:
    from jgan.run.integrity import path_name  # noqa: PLC0415
    return [path_name(path) for path in arrays[0]]


def all_finite(workdir, step) -> bool:
    arrays, _ = read_checkpoint(workdir, step)
    return all(np.isfinite(a).all() for a in arrays.values() if np.issubdtype(a.dtype, np.floating))


def compare(workdir, reference, ref_arrays, steps) -> tuple[bool, str]:
    """(exact, why not) of a chain's final state, metrics.jsonl and TensorBoard events."""
    if steps not in committed(workdir):
        return False, "no final checkpoint"
    arrays, data_state = read_checkpoint(workdir, steps)
    if arrays.keys() != ref_arrays[0].keys() or data_state != ref_arrays[1]:
        return False, "different arrays or data state"
    for path, array in ref_arrays[0].items():
        if not np.array_equal(arrays[path], array):
            return False, f"array {path} differs"
    rows, ref_rows = jsonl_rows(workdir), jsonl_rows(reference)
    counts = collections.Counter(rows)
    if any(n > 1 for n in counts.values()) or set(counts) != set(ref_rows):
        extra, missing = set(counts) - set(ref_rows), set(ref_rows) - set(counts)
        return False, f"metrics.jsonl rows: duplicated or extra {sorted(extra)[:3]}, missing {sorted(missing)[:3]}"
    if evaluations(workdir) != evaluations(reference):
        return False, "evaluation values differ"
    if events(workdir) != events(reference):
        return False, "TensorBoard steps differ"
    return True, ""


def jsonl_rows(workdir) -> list[tuple]:
    lines = (pathlib.Path(workdir) / "metrics.jsonl").read_text().splitlines()
    return [(row["step"], tuple(sorted(row))) for row in map(json.loads, lines)]


def evaluations(workdir) -> list[dict]:
    lines = (pathlib.Path(workdir) / "metrics.jsonl").read_text().splitlines()
    return sorted((r for r in map(json.loads, lines) if any(k.startswith("eval") for k in r)),
                  key=lambda r: (r["step"], sorted(r)))


def events(workdir) -> dict:
    from tensorboard.backend.event_processing import event_accumulator as ea  # noqa: PLC0415
    acc = ea.EventAccumulator(str(pathlib.Path(workdir) / "tensorboard"),
                              size_guidance={ea.SCALARS: 0, ea.IMAGES: 0})
    acc.Reload()
    tags = acc.Tags()
    return {**{t: [e.step for e in acc.Scalars(t)] for t in tags["scalars"]},
            **{t: [e.step for e in acc.Images(t)] for t in tags["images"]}}
