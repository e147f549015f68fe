"""The original files a dataset is built from: found in `--source DIR`, or downloaded, and checked.

Each file is an `Original`: its published name, URL, size and SHA-256 (TFDS's recorded checksums
for the same URLs). A file is accepted only with the published size and hash, so a truncated
download, a corrupted copy or another dataset's archive under the right name fails in one line
before anything is written.
"""
import dataclasses
import hashlib
import os
import pathlib
import urllib.request
from typing import Optional


@dataclasses.dataclass(frozen=True)
class Original:
    """A published file: `name` as distributed, where it is, and what it must hash to."""
    name: str
    url: str
    size: Optional[int]  # None where no size is on record: the hash alone decides.
    sha256: str


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: pathlib.Path, original: Original) -> pathlib.Path:
    """`path` if it has `original`'s size and SHA-256; else a one-line ValueError."""
    size = path.stat().st_size
    if original.size is not None and size != original.size:
        hint = "truncated" if size < original.size else "not the published file"
        raise ValueError(f"{path} has {size} bytes; expected {original.size} ({hint}: delete it "
                         f"and fetch {original.url} again)")
    digest = sha256(path)
    if digest != original.sha256:
        raise ValueError(f"{path} has SHA-256 {digest}; expected {original.sha256} (not the "
                         f"published {original.name}: corrupted, or another dataset's file)")
    return path


def download(original: Original, dest_dir: pathlib.Path, timeout_s: float = 60) -> pathlib.Path:
    """Fetches `original` into `dest_dir` (atomically: a `.part` file renamed when verified)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    path, part = dest_dir / original.name, dest_dir / (original.name + ".part")
    try:
        with urllib.request.urlopen(original.url, timeout=timeout_s) as response, \
                open(part, "wb") as out:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
    except OSError as e:
        part.unlink(missing_ok=True)
        reason = str(getattr(e, "reason", e)).splitlines() or [repr(e)]
        raise FileNotFoundError(f"could not fetch {original.url} ({type(e).__name__}: "
                                f"{reason[0]}); download {original.name} yourself and pass "
                                f"--source DIR") from None
    try:
        verify(part, original)
    except ValueError as e:
        part.unlink(missing_ok=True)
        raise ValueError(f"downloaded {original.url}: {e}") from None
    os.replace(part, path)
    return path


def locate(originals, source: Optional[str], download_dir: Optional[pathlib.Path],
           dataset: str) -> dict[str, pathlib.Path]:
    """Each original's verified path: from `source` if given (never downloading), else from
    `download_dir` (fetched there if missing). Missing files fail in one line naming them all."""
    paths = {}
    if source is not None:
        root = pathlib.Path(source)
        if not root.is_dir():
            raise FileNotFoundError(f"--source {source} is not a directory; expected one holding "
                                    f"{dataset}'s files {[o.name for o in originals]}")
        missing = [o.name for o in originals if not (root / o.name).is_file()]
        if missing:
            raise FileNotFoundError(f"{dataset}: {missing} not found in {source}; expected the "
                                    f"published files {[o.name for o in originals]}")
        return {o.name: verify(root / o.name, o) for o in originals}
    for original in originals:
        path = download_dir / original.name
        paths[original.name] = (verify(path, original) if path.is_file()
                                else download(original, download_dir))
    return paths
