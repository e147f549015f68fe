"""Writing a dataset through TFDS's own builder without TensorFlow, so that nothing half-written is
ever read as a dataset.

TFDS reads a dataset version directory only once it holds `dataset_info.json` (and
`features.json`). On a local disk TFDS writes into `incomplete.XXXXXX_<version>/` and renames it
when complete (atomic); a killed prepare leaves only that directory, which TFDS never reads and
the next prepare removes. A bucket has no atomic rename, so there jgan builds in a local staging
directory and copies the result with `dataset_info.json` last: until that file lands, the copy is
not a dataset, and the next prepare deletes it and copies again.
"""
import dataclasses
import pathlib
import tempfile
from typing import Optional

import tensorflow_datasets as tfds
from etils import epath

from jgan.data import sources

INFO_FILE = "dataset_info.json"


def _root(data_dir: Optional[str]) -> epath.Path:
    return epath.Path(data_dir or tfds.core.constants.DATA_DIR)


def is_local(path) -> bool:
    return "://" not in str(path)


def build(builder_cls, data_dir: Optional[str], **builder_kwargs) -> str:
    """Writes `builder_cls(**builder_kwargs)`'s dataset (ArrayRecord) into `data_dir`; returns the
    version directory. Leftovers of a killed earlier run are removed first."""
    root = _root(data_dir)
    config = tfds.download.DownloadConfig(try_download_gcs=False)
    if is_local(root):
        builder = builder_cls(data_dir=str(root), file_format="array_record", **builder_kwargs)
        remove_leftovers(epath.Path(builder.data_dir))
        builder.download_and_prepare(download_config=config)
        return str(builder.data_dir)
    with tempfile.TemporaryDirectory(prefix="jgan-prepare-") as staging:
        builder = builder_cls(data_dir=staging, file_format="array_record", **builder_kwargs)
        builder.download_and_prepare(download_config=config)
        built = pathlib.Path(builder.data_dir)
        target = root / built.parent.name / built.name
        publish(built, target)
    return str(target)


def remove_leftovers(version_dir: epath.Path) -> None:
    """Deletes what a killed prepare left for this version: TFDS's `incomplete.*_<version>`
    directories, and a version directory without `dataset_info.json` (an interrupted copy)."""
    parent = version_dir.parent
    if not parent.exists():
        return
    for leftover in parent.glob(f"{tfds.core.constants.INCOMPLETE_PREFIX}*_{version_dir.name}"):
        leftover.rmtree(missing_ok=True)
    if version_dir.exists() and not (version_dir / INFO_FILE).exists():
        version_dir.rmtree()


def publish(built: pathlib.Path, target: epath.Path) -> None:
    """Copies a complete version directory to `target` with `dataset_info.json` last."""
    if (target / INFO_FILE).exists():
        return  # Already complete there (another process published it).
    remove_leftovers(target)
    files = sorted(p for p in built.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name == INFO_FILE)  # Stable: the info file moves to the end.
    for path in files:
        dest = target / path.relative_to(built).as_posix()
        dest.parent.mkdir(parents=True, exist_ok=True)
        epath.Path(path).copy(dest, overwrite=True)


def problem(name: str, data_dir: Optional[str]) -> Optional[str]:
    """None if `name` is completely prepared in `data_dir`; else what is wrong, in a few words."""
    try:
        builder = tfds.builder(name, data_dir=str(_root(data_dir)))
    except Exception as e:  # noqa: BLE001 — TFDS raises several types for "not there".
        return f"not prepared ({type(e).__name__})"
    version_dir = epath.Path(builder.data_dir)
    if not builder.is_prepared():
        leftovers = list(version_dir.parent.glob(f"{tfds.core.constants.INCOMPLETE_PREFIX}*")) \
            if version_dir.parent.exists() else []
        return ("a prepare was interrupted (leftover " + leftovers[0].name + ")" if leftovers
                else "a copy was interrupted (no dataset_info.json)" if version_dir.exists()
                else "not prepared")
    for split in builder.info.splits.values():
        missing = [f for f in split.filenames if not (version_dir / f).exists()]
        if missing:
            return f"split {split.name!r} lacks {missing[0]} ({len(missing)} file(s) missing)"
    return None


def download_dir(data_dir: Optional[str], name: str) -> pathlib.Path:
    """Where downloads of `name`'s originals go: `<data_dir>/downloads/<name>` on a local disk,
    else jgan's cache (a bucket is no place to stream a download into)."""
    root = _root(data_dir)
    if is_local(root):
        return pathlib.Path(root) / "downloads" / name
    from jgan.metrics import weights  # noqa: PLC0415 — only for this fallback.
    return weights.cache_dir() / "downloads" / name


@dataclasses.dataclass
class Preparer:
    """`jgan prepare NAME` for one TFDS dataset: its builder (fed the verified original files
    as `files={name: path}`) and the originals it needs."""
    name: str
    builder_cls: type
    originals: tuple  # sources.Original, in the order they are checked.

    def prepare(self, data_dir: Optional[str] = None, source: Optional[str] = None) -> str:
        """Builds the dataset into `data_dir` (reusing a complete one); returns its directory."""
        files = sources.locate(self.originals, source, download_dir(data_dir, self.name),
                               self.name)
        return build(self.builder_cls, data_dir, files=files)

    def is_prepared(self, data_dir: Optional[str] = None) -> bool:
        return problem(self.name, data_dir) is None
