"""FID feature extraction on this machine: jgan's FID Inception against torch-fidelity's, same run.

    pip install torch torch-fidelity   # benchmark-only
    python experiments/benchmarks/fid_speed.py [--images 64] [--batch 32] [--rounds 5] [--size 32]

Both networks get the same random weights: torch-fidelity's `FeatureExtractorInceptionV3` is
built with a seeded random init (its BatchNorm statistics calibrated on one batch, so activations
carry signal), saved with `torch.save`, and converted for jgan by `jgan.metrics.convert_inception`
(which reads the file without torch). Both see the same `--images` random uint8 images of
`--size`² × 3 (jgan takes them as x / 127.5 − 1) and return the 2048-d pool features.

Each framework runs in a child process of its own (they would share one OpenMP runtime otherwise;
see step_speed.py) and is warmed up (jgan: compiled) first; the parent then alternates them round
by round, each round timing the whole set of images. The table gives the median images/s, the
ratio jgan / torch (> 1: jgan is faster), its range over the rounds, jgan's compile time, and the
largest relative difference between the two sets of features (the same network, checked).
jgan runs `jgan.metrics.inception.features_fn` as evaluation runs it (batches of `--batch` per
device, jit with jgan's CPU compiler options); torch-fidelity runs in `torch.inference_mode`
with its default float32 path and `--batch` images per call.
"""
import argparse
import importlib
import importlib.util
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import types

import numpy as np


def _fidelity(name: str):
    """A torch_fidelity submodule without the package __init__ (which imports torchvision)."""
    if "torch_fidelity" not in sys.modules:
        package = types.ModuleType("torch_fidelity")
        package.__path__ = list(importlib.util.find_spec("torch_fidelity").submodule_search_locations)
        sys.modules["torch_fidelity"] = package
    return importlib.import_module(f"torch_fidelity.{name}")


def write_random_weights(pth: pathlib.Path, seed: int = 0) -> None:
    """torch-fidelity's Inception, randomly initialised (seeded), BatchNorm calibrated, saved."""
    import torch  # noqa: PLC0415
    ref = _fidelity("feature_extractor_inceptionv3")
    cls = ref.FeatureExtractorInceptionV3
    torch.manual_seed(seed)
    ref.load_state_dict_from_url = lambda *a, **k: {}  # Keep the random init; never download.
    load_state_dict, cls.load_state_dict = cls.load_state_dict, lambda self, *a, **k: None
    net = cls("inception-v3-compat", ["2048"])
    cls.load_state_dict = load_state_dict
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.momentum = 1.0
    net.train()
    with torch.no_grad():
        net((torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(seed)) * 255)
            .to(torch.uint8))
    torch.save(net.state_dict(), pth)


def _images(args) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (args.images, args.size, args.size, 3),
                                             dtype=np.uint8)


def jgan_runner(args, workdir: pathlib.Path):
    import jax  # noqa: PLC0415
    from jgan.metrics import inception  # noqa: PLC0415
    run = inception.features_fn(inception.load_params(workdir / "weights.npz"), args.batch)
    images = _images(args).astype(np.float32) / 127.5 - 1.0
    t0 = time.perf_counter()
    run(images[:1])  # Compiles (the same program for every batch).
    compile_s = time.perf_counter() - t0
    return (lambda: run(images)[0]), compile_s, f"jax {jax.__version__}"


def torch_runner(args, workdir: pathlib.Path):
    import torch  # noqa: PLC0415
    cls = _fidelity("feature_extractor_inceptionv3").FeatureExtractorInceptionV3
    net = cls("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(workdir / "w.pth"))
    images = torch.from_numpy(_images(args)).permute(0, 3, 1, 2).contiguous()

    def run():
        with torch.inference_mode():
            return np.concatenate([net(images[i:i + args.batch])[0].numpy()
                                   for i in range(0, len(images), args.batch)])
    return run, 0.0, f"torch {torch.__version__}, {torch.get_num_threads()} threads"


def serve(framework: str, args) -> None:
    """The child: build, warm up, then answer "run" (seconds for all images) and "save"."""
    workdir = pathlib.Path(args.workdir)
    run, compile_s, version = (jgan_runner if framework == "jgan" else torch_runner)(args, workdir)
    features = run()  # Warm-up.
    print(json.dumps({"compile_s": compile_s, "version": version}), flush=True)
    for request in sys.stdin:
        if request.startswith("run"):
            t0 = time.perf_counter()
            run()
            print(time.perf_counter() - t0, flush=True)
        else:
            np.save(workdir / f"{framework}.npy", features)
            print("saved", flush=True)
            return


class Worker:
    def __init__(self, framework: str, args):
        argv = [sys.executable, __file__, "--worker", framework, "--workdir", args.workdir,
                "--images", str(args.images), "--batch", str(args.batch), "--size", str(args.size)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self._ask(None))

    def _ask(self, request):
        if request:
            self.proc.stdin.write(request + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.proc.args[3]} exited ({self.proc.wait()})")
        return line

    def seconds(self) -> float:
        return float(self._ask("run"))

    def save(self) -> None:
        self._ask("save")
        self.proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=32, help="input side (resized to 299)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", choices=["jgan", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        serve(args.worker, args)
        return
    with tempfile.TemporaryDirectory(prefix="fid_speed-") as workdir:
        args.workdir = workdir
        write_random_weights(pathlib.Path(workdir) / "w.pth")
        from jgan.metrics import convert_inception  # noqa: PLC0415 — reads the .pth without torch.
        convert_inception.convert(pathlib.Path(workdir) / "w.pth", pathlib.Path(workdir) / "weights.npz")
        jgan_w, torch_w = Worker("jgan", args), Worker("torch", args)
        j_s, t_s = [], []
        for _ in range(args.rounds):
            j_s.append(jgan_w.seconds())
            t_s.append(torch_w.seconds())
        jgan_w.save()
        torch_w.save()
        ours, ref = (np.load(pathlib.Path(workdir) / f"{f}.npy") for f in ("jgan", "torch"))
    diff = float(np.abs(ours - ref).max() / np.abs(ref).max())
    j, t = statistics.median(j_s), statistics.median(t_s)
    ratios = [b / a for a, b in zip(j_s, t_s)]
    print(f"{jgan_w.info['version']}; {torch_w.info['version']}; {args.images} images of "
          f"{args.size}x{args.size}x3, batch {args.batch}, {args.rounds} rounds\n")
    print("| jgan img/s | torch-fidelity img/s | ratio | round ratios | jgan compile s "
          "| max rel. feature diff |")
    print("|" + " --- |" * 6)
    print(f"| {args.images / j:.2f} | {args.images / t:.2f} | {t / j:.2f} | "
          f"{min(ratios):.2f}–{max(ratios):.2f} | {jgan_w.info['compile_s']:.1f} | {diff:.1e} |")


if __name__ == "__main__":
    main()
