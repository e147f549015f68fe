"""CelebA (aligned and cropped faces) from its original files, as TFDS's `celeb_a`.

TFDS's `celeb_a` has, per image, the aligned 178×218 JPEG and its landmarks, 40 attributes and
identity, split train / validation / test by `list_eval_partition.txt`. Its builder needs all five
published files: `img_align_celeba.zip` (`img_align_celeba/000001.jpg`, ...), the partition file,
`list_attr_celeba.txt`, `list_landmarks_align_celeba.txt` and `identity_CelebA.txt`. jgan feeds
TFDS's builder from them (the JPEG bytes unchanged), so TFDS's name, version, features, splits and
keys hold and `tfds.data_source("celeb_a")` reads the result.

The 64×64 images GAN papers train on are a crop of these: jgan's pipeline takes the central
160×160 square (`CROP`, as compare_gan — Lucic et al. 2018, Kurach et al. 2019 — does with TFDS's
`celeb_a`) and resizes it to the model's size.
"""
import io
import zipfile
import zlib

from PIL import Image, UnidentifiedImageError
from tensorflow_datasets.datasets.celeb_a import celeb_a_dataset_builder as tfds_celeb_a

from jgan.data import tfds_write
from jgan.data.sources import Original

CROP = 160  # Side of the central square the pipeline crops before resizing.
IMAGE_SIZE = (178, 218)  # (width, height) of every aligned image.
IMAGES_DIR = "img_align_celeba/"
SPLITS = {"train": 0, "validation": 1, "test": 2}  # TFDS split -> partition file's number.
_DRIVE = "https://drive.google.com/uc?export=download&id="
ORIGINALS = tuple(Original(name, _DRIVE + key, size, digest) for name, key, size, digest in (
    ("list_eval_partition.txt", "0B7EVK8r0v71pY0NSMzRuSXJEVkk", 2836386,
     "fc955bcb3ef8fbdf7d5640d9a8693a8431b5f2ee291a5c1449a1549e7e073fe7"),
    ("img_align_celeba.zip", "0B7EVK8r0v71pZjFTYXZWM3FlRnM", 1443490838,
     "46fb89443c578308acf364d7d379fe1b9efb793042c0af734b6112e4fd3a8c74"),
    ("list_attr_celeba.txt", "0B7EVK8r0v71pblRyaVFSWGxPY0U", 26721026,
     "f0e5da289d5ccf75ffe8811132694922b60f2af59256ed362afa03fefba324d0"),
    ("list_landmarks_align_celeba.txt", "0B7EVK8r0v71pd0FJY3Blby1HUTQ", 12156055,
     "6c02a87569907f6db2ba99019085697596730e8129f67a3d61659f198c48d43b"),
    ("identity_CelebA.txt", "1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS", 3424458,
     "c6143857c3e2630ac2da9f782e9c1232e5e59be993a9d44e8a7916c78a6158c0"),
))


def read_partition(path) -> dict[str, list[str]]:
    """Split name -> sorted image file names, from lines "000001.jpg 0"."""
    splits = {name: [] for name in SPLITS}
    by_number = {number: name for name, number in SPLITS.items()}
    for line_number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise ValueError(f"{path}:{line_number}: {line.strip()!r}; expected "
                             f"'<image>.jpg <0|1|2>' (the CelebA partition file)")
        splits[by_number[int(fields[1])]].append(fields[0])
    return {name: sorted(files) for name, files in splits.items()}


def _annotations(values: dict, path, headings, files) -> dict:
    """`values` (file -> numbers) checked to cover `files` with one number per heading."""
    for file in files:
        row = values.get(file)
        if row is None or len(row) != len(headings):
            found = "no row" if row is None else f"{len(row)} values"
            raise ValueError(f"{path}: {file} has {found}; expected {len(headings)} values "
                             f"({headings[0]} ...)")
    return values


class _CelebA(tfds_celeb_a.Builder, skip_registration=True):
    """TFDS's `celeb_a` builder, fed from the verified local files."""
    name = "celeb_a"
    pkg_dir_path = tfds_celeb_a.Builder._get_pkg_dir_path()  # TFDS's README and citation.

    def __init__(self, *, files: dict, **kwargs):
        self._files = files
        super().__init__(**kwargs)

    def _split_generators(self, dl_manager):
        partition = read_partition(self._files["list_eval_partition.txt"])
        every = [f for names in partition.values() for f in names]
        tables = self._read_tables(every)
        present = set(_zip_names(self._files["img_align_celeba.zip"]))
        missing = [f for f in every if IMAGES_DIR + f not in present]
        if missing:
            raise ValueError(f"{self._files['img_align_celeba.zip']} lacks {IMAGES_DIR}"
                             f"{missing[0]} ({len(missing)} of the partition's images missing)")
        return {split: self._examples(files, tables) for split, files in partition.items()}

    def _read_tables(self, files) -> tuple:
        """(attributes, landmarks, identity) as TFDS parses them, checked to cover `files`."""
        paths = [self._files[n] for n in ("list_attr_celeba.txt",
                                          "list_landmarks_align_celeba.txt", "identity_CelebA.txt")]
        try:
            attributes = self._process_celeba_config_file(paths[0])
            landmarks = self._process_celeba_config_file(paths[1])
            identity = self._process_celeba_nonheading_config_file(
                paths[2], tfds_celeb_a.IDENTITY_HEADINGS)
        except (ValueError, IndexError) as e:
            raise ValueError(f"a CelebA annotation file does not parse ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''})") from None
        for (keys, _), path, want in ((attributes, paths[0], tfds_celeb_a.ATTR_HEADINGS),
                                      (landmarks, paths[1], tfds_celeb_a.LANDMARK_HEADINGS)):
            if list(keys) != list(want):
                raise ValueError(f"{path}: header {' '.join(keys)[:60]!r}...; expected "
                                 f"{' '.join(want)[:60]!r}...")
        for (keys, values), path in zip((attributes, landmarks, identity), paths):
            _annotations(values, path, keys, files)
        return attributes, landmarks, identity

    def _examples(self, files, tables):
        """TFDS's records, keyed by file name, in sorted order; images checked as JPEGs of the
        aligned size."""
        (attr_keys, attrs), (mark_keys, marks), (id_keys, ids) = tables
        with zipfile.ZipFile(self._files["img_align_celeba.zip"]) as archive:
            for file in files:
                try:
                    jpeg = archive.read(IMAGES_DIR + file)
                except (zipfile.BadZipFile, zlib.error, EOFError) as e:
                    raise ValueError(f"{IMAGES_DIR}{file} in the zip does not read back "
                                     f"({type(e).__name__}: {e}): a corrupt archive") from None
                _check_jpeg(jpeg, file)
                yield file, {
                    "image": jpeg,
                    "landmarks": dict(zip(mark_keys, marks[file])),
                    "attributes": {k: v > 0 for k, v in zip(attr_keys, attrs[file])},
                    "identity": dict(zip(id_keys, ids[file])),
                }


def _zip_names(path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{path} is not a readable zip archive (truncated or corrupt: "
                         f"{type(e).__name__}: {e})") from None


def _check_jpeg(jpeg: bytes, file: str) -> None:
    try:
        with Image.open(io.BytesIO(jpeg)) as image:
            kind, size = image.format, image.size
    except (OSError, UnidentifiedImageError):
        kind, size = "unreadable", None
    if kind != "JPEG" or size != IMAGE_SIZE:
        raise ValueError(f"{IMAGES_DIR}{file} is a {kind} image of {size}; expected a JPEG of "
                         f"{IMAGE_SIZE[0]}×{IMAGE_SIZE[1]} (the aligned CelebA image)")


CELEB_A = tfds_write.Preparer("celeb_a", _CelebA, ORIGINALS)
