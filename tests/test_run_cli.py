"""The `jgan` command: every bad input ends in one line naming what is valid, no traceback."""
import subprocess
import sys

import pytest

from jgan.run import config_diff, configs

from conftest import REPO, exit_message


def test_unknown_command_lists_the_commands():
    assert exit_message(["jgan", "trian"]) == (
        "error: unknown command 'trian'; expected one of ['evaluate', 'prepare', 'sample', 'train']")


def test_configs_are_found_by_name_and_an_unknown_name_lists_them(tmp_path):
    assert configs.path("ring2d:tiny").endswith("jgan/run/configs/ring2d.py:tiny")
    assert "ring2d" in configs.names() and "default" not in configs.names()
    message = exit_message(["jgan", "train", "--config", "ring3d", "--workdir", str(tmp_path)])
    assert message == f"error: unknown config 'ring3d'; expected a .py path or one of {configs.names()}"


def test_the_default_config_is_the_seed_dcgan_recipe_at_half_width_for_longer():
    default = configs.load(configs.DEFAULT).to_dict()
    seed_dcgan = configs.load("seed_dcgan_fashion_mnist").to_dict()
    assert configs.DEFAULT == "fashion_mnist"  # What the README's main command trains.
    assert config_diff.differences(seed_dcgan, default) == {
        "model.kwargs.width": ("(absent)", 32), "num_steps": (2000, 6000),
        "sample_every": (500, 1000), "eval_every": (500, 1000), "checkpoint_every": (500, 1000),
        "optimizer.d.learning_rate": (2e-4, 5e-4), "optimizer.g.learning_rate": (2e-4, 1e-3)}


def test_the_long_config_is_the_full_width_seed_dcgan_for_longer():
    seed_dcgan = configs.load("seed_dcgan_fashion_mnist").to_dict()
    long = configs.load("fashion_mnist_long").to_dict()
    assert config_diff.differences(seed_dcgan, long) == {
        "num_steps": (2000, 16_000), "log_every": (50, 100), "sample_every": (500, 2000),
        "eval_every": (500, 2000), "checkpoint_every": (500, 2000),
        "checkpoint.keep_every": (0, 2000), "optimizer.g.schedule": ("constant", "linear"),
        "optimizer.d.schedule": ("constant", "linear"),
        "optimizer.d.learning_rate": (2e-4, 5e-4), "optimizer.g.learning_rate": (2e-4, 1e-3)}


@pytest.mark.parametrize("config", [[], ["--config", "ring2d:tiny"]])
def test_unknown_config_key_names_the_valid_keys_with_and_without_config(config, tmp_path):
    message = exit_message(["jgan", "train", *config, "--workdir", str(tmp_path),
                             "--config.model.nam=x"])
    assert message == ("error: unknown config key 'nam' in --config.model.nam; valid keys of "
                       "model: ['image_shape', 'kwargs', 'name', 'num_classes', 'precision', 'z_dim']")


@pytest.mark.parametrize("override,expected", [
    ("--config.model.name=dcgan128", "unknown model 'dcgan128'; expected one of ['cgan_pd', "
                                     "'dcgan', 'lucic_infogan', 'mlp2d', 'seed_dcgan', 'sngan']"),
    ("--config.loss.name=nonsaturating", "unknown loss 'nonsaturating'; expected one of"),
    ("--config.optimizer.g.name=adamm", "unknown optimizer 'adamm'; expected one of"),
    ("--config.dataset.name=mnits", "dataset 'mnits' split 'train' is not available"),
    ("--config.eval.metrics=('fid',)", "metrics ['fid'] do not apply to 2-D data; expected some of"),
])
def test_unknown_names_end_in_one_line(override, expected, tmp_path):
    message = exit_message(["jgan", "train", "--config", "ring2d:tiny", "--workdir",
                             str(tmp_path), override])
    assert message.startswith(f"error: {expected}"), message


def test_unknown_layer_impl_names_the_valid_ones(tmp_path):
    message = exit_message(["jgan", "train", "--config", "seed_dcgan_fashion_mnist", "--workdir",
                             str(tmp_path), "--config.model.kwargs", "{'conv_impl': 'fast'}"])
    assert message == ("error: unknown layer impl 'fast' (renamed 'xla_cpu'); expected one of "
                       "auto, lax, xla_cpu, onednn")


def test_experiments_train_py_gives_the_same_one_line_errors(tmp_path):
    """The TPU users' entry point, as a process: no traceback, the last line is the error."""
    for args, expected in [
            ((), "error: unknown config key 'nope' in --config.nope"),
            (("--config", "experiments/configs/ring2d.py:tiny", "--config.model.name=x"),
             "error: unknown model 'x'; expected one of")]:
        result = subprocess.run([sys.executable, "experiments/train.py", *args, "--workdir",
                                 str(tmp_path), *(["--config.nope=1"] if not args else [])],
                                cwd=REPO, capture_output=True, text=True, timeout=300)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert result.stderr.strip().splitlines()[-1].startswith(expected), result.stderr[-500:]


def test_the_error_is_the_last_line_while_other_threads_still_write_to_stderr():
    """A failed Orbax save's threads keep printing as the process ends; the error must stay last."""
    noisy = ("import os, threading, time\n"
             "from jgan.run import cli\n"
             "started = threading.Event()\n"
             "def noise():\n"
             "    while True:\n"
             "        os.write(2, b'noise\\n')\n"
             "        started.set()\n"
             "        time.sleep(1e-4)  # A thread that reports, not one that fills the pipe.\n"
             "threading.Thread(target=noise, daemon=True).start()\n"
             "started.wait()  # Noise before the error even on a loaded machine.\n"
             "cli._last_words('error: the last words')\n"
             "time.sleep(0.05)\n")
    result = subprocess.run([sys.executable, "-c", noisy], capture_output=True, text=True,
                            timeout=120)
    lines = result.stderr.splitlines()
    assert lines[-1] == "error: the last words" and "noise" in lines[0], result.stderr[-300:]
