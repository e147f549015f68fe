"""A directory of images as a random-access source; class sub-folders give labels."""
import pathlib

import numpy as np
from PIL import Image, UnidentifiedImageError

EXTENSIONS = (".png", ".jpg", ".jpeg")


class ImageFolder:
    """Images under `path` (recursively). With sub-folders, each sub-folder is a class:
    labels are the sub-folder's index in sorted order."""

    def __init__(self, path: str):
        root = pathlib.Path(path)
        if not root.is_dir():
            raise FileNotFoundError(f"image folder {path} does not exist or is not a directory")
        self.files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS)
        if not self.files:
            raise ValueError(f"image folder {path} has no {'/'.join(EXTENSIONS)} files")
        self.classes = sorted({p.parent.relative_to(root).parts[0] for p in self.files
                               if p.parent != root})
        self._class_index = {c: i for i, c in enumerate(self.classes)}
        self.root = root

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode))
        except (OSError, UnidentifiedImageError) as e:
            raise ValueError(f"unreadable image {path}: {e}") from None
        example = {"image": array if array.ndim == 3 else array[..., None]}
        if self.classes:
            example["label"] = self._class_index.get(path.parent.relative_to(self.root).parts[0], 0) \
                if path.parent != self.root else 0
        return example
