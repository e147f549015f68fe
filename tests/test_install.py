"""jgan as users install it: a wheel (not editable) runs `jgan train` from any directory, and the
install a TPU VM or GPU machine makes builds and installs none of the oneDNN pieces."""
import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest

from conftest import REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """jgan's wheel, built as `pip install .` builds it (no oneDNN requested)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):  # A copy: pip builds in the source tree.
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "jgan", source / "jgan", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    return next(out.glob("jgan-*.whl"))


def test_the_installed_wheel_trains_from_another_directory(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(site), str(wheel)], check=True, capture_output=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    where = subprocess.run([sys.executable, "-c", "import jgan; print(jgan.__file__)"], cwd=elsewhere,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), f"the test imported {where}, not the installed wheel"
    result = subprocess.run([str(site / "bin" / "jgan"), "train", "--config", "ring2d:tiny",
                             "--workdir", "w", "--config.num_steps=10"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (elsewhere / "w" / "checkpoints" / "10").is_dir()
    assert (elsewhere / "w" / "samples" / "step_000010.png").is_file()


def test_a_plain_install_builds_and_installs_no_onednn(wheel):
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    assert build == ["setuptools>=68"], f"jgan's build needs {build}: a TPU install would fetch them"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        scripts = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    compiled = [n for n in names if n.endswith((".so", ".cc", ".cpp"))]
    assert not compiled, f"the wheel carries compiled code: {compiled}"
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if "onednn" in r.lower()], requires
    assert "jgan/run/configs/ring2d.py" in names and "jgan/cpu/conv.py" in names
    assert "jgan = jgan.run.cli:main" in scripts
