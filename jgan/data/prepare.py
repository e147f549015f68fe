"""Builds TFDS datasets offline: `python -m jgan.data.prepare fashion_mnist [--source DIR] [--data_dir DIR]`.

Fashion-MNIST is built from its original IDX files (Debian's `dataset-fashion-mnist`, a --source
directory, or — where the network allows — the original URLs, verified by content hash).
"""
import argparse
import sys
from typing import Optional

from jgan.data import fashion_mnist

PREPARERS = {"fashion_mnist": fashion_mnist}


def ensure_prepared(name: str, data_dir: Optional[str] = None, source: Optional[str] = None) -> None:
    """Prepares `name` in `data_dir` unless it is there already."""
    if name not in PREPARERS:
        raise ValueError(f"jgan cannot prepare dataset {name!r}; expected one of {sorted(PREPARERS)}")
    if not PREPARERS[name].is_prepared(data_dir):
        print(f"jgan: preparing {name} in {data_dir or 'the TFDS data dir'} (once)", flush=True)
        PREPARERS[name].prepare(data_dir, source)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(PREPARERS))
    parser.add_argument("--source", help="directory with the original files")
    parser.add_argument("--data_dir", help="TFDS data directory (default: TFDS's)")
    args = parser.parse_args(argv)
    try:
        path = PREPARERS[args.name].prepare(args.data_dir, args.source)
    except (FileNotFoundError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"prepared {args.name} in {path}")


if __name__ == "__main__":
    main()
