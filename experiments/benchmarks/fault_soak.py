"""Fault soak: a small run interrupted on purpose, again and again, checked against an
uninterrupted run of the same config.

    python experiments/benchmarks/fault_soak.py --faults 60 --seed 0

Runs ring2d:tiny for --steps steps once without faults (the reference), then chains of `jgan train`
processes on fresh workdirs, each process given one fault drawn with --seed, until --faults faults
were injected; a chain ends with a run without faults. A chain ends *exact* when its final
checkpoint holds the reference's arrays bit for bit (G, D, G-EMA, optimizer states, RNG, step,
data state), its metrics.jsonl holds each of the reference's rows exactly once (evaluations equal)
and TensorBoard reads back the reference's steps for every tag. *Lost* counts steps by which a
run resumed behind the last checkpoint that was complete and uncorrupted. docs/faults.md lists
what each fault must do; the table goes to docs/results.md.

Faults: kill_startup (SIGKILL at a random moment before the first step), term (SIGTERM at a
random moment once the run holds its workdir: start-up, compilation, steps, saves, evaluations;
a run that finishes first ends its chain), term_step (SIGTERM by failpoint during a random step,
not drawn by default: the small soak's SIGTERM, which must land inside the run);
kill_step, kill_save, kill_eval, kill_samples, nan (jgan.run.faults failpoints at random steps,
with random delays); disk_full
(the workdir's tmpfs shrunk to a random few KiB above its use; needs mount rights, else left
out); corrupt_state|data|config|meta (a random file of that item of the latest checkpoint
truncated, flipped, zeroed or deleted between runs); second_run (a second process on a live
run's workdir); config_edit (a resume with a changed key that must be refused).
"""
import argparse
import collections
import json
import os
import pathlib
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import typing

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "experiments" / "benchmarks"))

from fault_outcome import (all_finite, can_mount, committed, compare, damage, mount,  # noqa: E402
                           read_checkpoint, tensor_names)

KINDS = ("kill_startup", "kill_step", "kill_save", "kill_eval", "kill_samples", "term",
         "disk_full", "corrupt_state", "corrupt_data", "corrupt_config", "corrupt_meta", "nan",
         "second_run", "config_edit")
TIMED = ("kill_startup", "term")  # Faults at a random wall-clock moment, not a failpoint.
EVERY = dict(checkpoint_every=25, log_every=5, sample_every=50, eval_every=50)
EDITS = ("--config.optimizer.d.learning_rate=0.0005", "--config.loss.name=non_saturating",
         "--config.batch_size=32", "--config.seed=1", "--config.ema.decay=0.9")
DELAYS = dict(step=0.01, save=0.15, eval=0.3, samples=0.2)  # Upper bounds of random delays (s).
TMPFS = 64 << 20


class Soak:
    """The reference run, the chains and their records."""

    def __init__(self, root: pathlib.Path, steps: int, seed: int, kinds, use_tmpfs: bool,
                 plan: bool = False, config_args=()):
        self.root, self.steps, self.rng = root, steps, random.Random(seed)
        self.config_args = tuple(config_args)
        self.use_tmpfs, self.plan = use_tmpfs, plan
        self.kinds = [k for k in kinds if use_tmpfs or k != "disk_full"]
        # With faults aimed at wall-clock moments every run compiles for itself: a warm
        # compilation cache (the test suite keeps one) would move start-up and compilation.
        self.cold = bool(set(self.kinds) & set(TIMED))
        self.records = []

    # ------------------------------------------------------------------ processes
    def launch(self, workdir, fault=None, extra=()):
        env = {k: v for k, v in os.environ.items() if k not in ("JGAN_FAULT", "XLA_FLAGS")
               and not (self.cold and k.startswith("JAX_"))}
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        if fault:
            env["JGAN_FAULT"] = fault
        args = ["--config", "ring2d:tiny", f"--config.num_steps={self.steps}",
                *(f"--config.{k}={v}" for k, v in EVERY.items()), *self.config_args, *extra]
        return subprocess.Popen([sys.executable, "-m", "jgan", "train", *args, "--workdir",
                                 str(workdir)], cwd=REPO, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def reference(self):
        """The run without faults; also times its start-up (to the lock, to the first row)."""
        workdir = self.root / "reference"
        start, marks = time.time(), {}
        proc = self.launch(workdir)
        while proc.poll() is None:
            for name, path in (("lock", workdir / "run.lock"), ("row", workdir / "metrics.jsonl")):
                if name not in marks and path.exists() and path.stat().st_size:
                    marks[name] = time.time() - start
            time.sleep(0.02)
        out, err = proc.communicate()
        assert proc.returncode == 0, err[-3000:]
        self.ref, self.t_total = workdir, time.time() - start
        self.t_lock, self.t_start = marks.get("lock", 2.0), marks.get("row", 5.0)
        self.ref_arrays = read_checkpoint(workdir, self.steps)

    @staticmethod
    def wait_for_lock(workdir, proc) -> None:
        """Until `proc` holds the workdir (the lock names its pid): from then on jgan honours
        SIGTERM. A lock file may still name a killed run."""
        lock = workdir / "run.lock"
        while proc.poll() is None and f'"pid": {proc.pid},' not in (
                lock.read_text() if lock.exists() else ""):
            time.sleep(0.01)

    # ------------------------------------------------------------------ one chain
    def chain(self, index: int, budget: int) -> int:
        """Runs one chain of up to `budget` faults; returns how many were injected."""
        workdir = self.root / f"chain{index}"
        workdir.mkdir()
        if self.use_tmpfs:
            mount(workdir, TMPFS)
        state = dict(workdir=workdir, good=0, corrupted=set(), pending=[], faults=[])
        try:
            for _ in range(budget if self.plan else min(budget, self.rng.randint(3, 6))):
                kind = self.pick(state)
                if kind is None:
                    break
                record = dict(kind=kind, chain=index, ok=False, lost=0, note="")
                state["last"] = {}
                getattr(self, kind if not kind.startswith("corrupt") else "corrupt")(state, record)
                record.update(resumed=state["last"].get("start"))  # Where its process started.
                if not record["ok"]:
                    record.update(stderr=state["last"].get("stderr"))
                state["faults"].append(record)
                if state.get("done"):
                    break
            last = self.run_to_end(state)
            exact, why = compare(workdir, self.ref, self.ref_arrays, self.steps)
            for record in state["faults"]:
                record["exact"] = exact and last
                record["note"] += "" if exact else f" chain not exact: {why}"
                print(f"chain {index} {record['kind']}: ok={record['ok']} exact={record['exact']} "
                      f"lost={record['lost']} {record['note']}", flush=True)
            self.records += state["faults"]
            return len(state["faults"])
        finally:
            if self.use_tmpfs:
                subprocess.run(["umount", str(workdir)], check=False)

    def pick(self, state):
        """A fault that can act now (random, or the next of a plan); None ends the chain."""
        allowed = [k for k in self.kinds if self.can_act(k, state)]
        if self.plan:
            done = len(self.records) + len(state["faults"])
            return self.kinds[done] if done < len(self.kinds) and self.kinds[done] in allowed else None
        return self.rng.choice(allowed) if allowed else None

    def can_act(self, kind: str, state) -> bool:
        """Corruption and config edits need a checkpoint; failpoints a step still to come."""
        if kind.startswith("corrupt") or kind == "config_edit":
            return state["good"] > 0
        every = dict(kill_step=1, term_step=1, nan=1, kill_save=EVERY["checkpoint_every"],
                     kill_eval=EVERY["eval_every"], kill_samples=EVERY["sample_every"]).get(kind)
        return every is None or bool(self.steps_left(state, every))

    def segment(self, state, proc, timeout=600):
        """Waits for `proc`; notes where it resumed and what that lost; returns (rc, out, err)."""
        out, err = proc.communicate(timeout=timeout)
        resumed = re.search(r"resumed from checkpoint step (\d+)", out)
        start = int(resumed.group(1)) if resumed else (0 if "train:" in err else None)
        state["last"] = dict(start=start, stderr=err[-1500:])
        if start is not None and state["pending"]:
            state["pending"][-1]["lost"] += max(0, state["good"] - start)
            state["pending"] = []
        if proc.returncode == 0 and "preemption requested" not in out:
            state["done"] = True
        state["good"] = max([s for s in committed(state["workdir"]) if s not in state["corrupted"]],
                            default=0)
        return proc.returncode, out, err

    def run_to_end(self, state) -> bool:
        for _ in range(3):  # A fault's leftovers may need one more start (never seen so far).
            rc, out, err = self.segment(state, self.launch(state["workdir"]))
            if rc == 0 and self.steps in committed(state["workdir"]):
                return True
        print(f"chain did not finish: {err[-2000:]}", flush=True)
        return False

    def steps_left(self, state, every: int) -> list[int]:
        """Steps the next run will reach: after every checkpoint (a corrupted one may prove
        harmless and be resumed from)."""
        latest = max(committed(state["workdir"]), default=0)
        return [s for s in range(latest + 1, self.steps + 1) if s % every == 0]

    def fault_step(self, state, every: int):
        return self.rng.choice(self.steps_left(state, every))

    # ------------------------------------------------------------------ the faults
    def kill_startup(self, state, record):
        proc = self.launch(state["workdir"])
        time.sleep(self.rng.uniform(0, self.t_start))
        proc.kill()
        rc, _, _ = self.segment(state, proc)
        record.update(ok=rc in (-9, 0), note=f"rc {rc}")
        state["pending"].append(record)

    def _failpoint_kill(self, state, record, point, every):
        step = self.fault_step(state, every)
        delay = self.rng.uniform(0, DELAYS[point])
        before = set(committed(state["workdir"]))
        rc, out, err = self.segment(state, self.launch(state["workdir"], f"kill:{point}:{step}:{delay:.4f}"))
        mid_save = bool(list((state["workdir"] / "checkpoints").glob("*orbax-checkpoint-tmp*")))
        record.update(ok=rc == -9, step=step, note=f"rc {rc}" + (", mid-save" if mid_save else ""),
                      mid_save=mid_save, new_checkpoints=sorted(set(committed(state["workdir"])) - before))
        state["pending"].append(record)

    def kill_step(self, state, record):
        self._failpoint_kill(state, record, "step", 1)

    def kill_save(self, state, record):
        self._failpoint_kill(state, record, "save", EVERY["checkpoint_every"])

    def kill_eval(self, state, record):
        self._failpoint_kill(state, record, "eval", EVERY["eval_every"])

    def kill_samples(self, state, record):
        self._failpoint_kill(state, record, "samples", EVERY["sample_every"])

    def term(self, state, record):
        remaining = 1 - state["good"] / self.steps
        proc = self.launch(state["workdir"])
        self.wait_for_lock(state["workdir"], proc)
        time.sleep(self.rng.uniform(0, self.t_start - self.t_lock +
                                    remaining * (self.t_total - self.t_start)))
        proc.terminate()
        rc, out, err = self.segment(state, proc)
        saved = re.search(r"saved step (\d+), exiting", out)
        at_step = saved and int(saved.group(1)) in committed(state["workdir"])
        finished = rc == 0 and self.steps in committed(state["workdir"])
        record.update(ok=rc == 0 and bool(at_step or finished), note=f"rc {rc}" + (
            f", saved step {saved.group(1)}" if saved else ", finished" if finished else ""))
        state["pending"].append(record)

    def term_step(self, state, record):
        """SIGTERM by failpoint during a random step: it always lands inside the run."""
        step = self.rng.choice(self.steps_left(state, 1)[:-1] or [1])  # Not the last: it ends anyway.
        rc, out, _ = self.segment(state, self.launch(state["workdir"], f"term:step:{step}:0"))
        saved = re.search(r"saved step (\d+), exiting", out)
        at_step = saved and int(saved.group(1)) in committed(state["workdir"])
        record.update(ok=rc == 0 and bool(at_step), step=step,
                      note=f"rc {rc}" + (f", saved step {saved.group(1)}" if saved else ""))
        state["pending"].append(record)

    def disk_full(self, state, record):
        workdir = state["workdir"]
        # A killed save's partial copy, which the run would delete at start-up, goes first: the
        # space it frees would otherwise decide whether the disk fills.
        for leftover in (workdir / "checkpoints").glob("*orbax-checkpoint-tmp*"):
            shutil.rmtree(leftover)
        vfs = os.statvfs(workdir)
        used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
        extra = self.rng.randint(2, 60) * 4096
        subprocess.run(["mount", "-o", f"remount,size={used + extra}", str(workdir)], check=True)
        rc, out, err = self.segment(state, self.launch(workdir))
        subprocess.run(["mount", "-o", f"remount,size={TMPFS}", str(workdir)], check=True)
        last = err.strip().splitlines()[-1] if err.strip() else ""
        named = last.startswith("error: no space left on device") and str(workdir) in last
        record.update(ok=rc == 1 and named, note=f"rc {rc}: {last[:200]}", extra_kib=extra // 1024)
        state["pending"].append(record)

    def corrupt(self, state, record):
        item = record["kind"].split("_", 1)[1]
        step = state["good"]
        files = sorted(p for p in (state["workdir"] / "checkpoints" / str(step) / item).rglob("*")
                       if p.is_file() and p.name != "commit_success.txt")  # Orbax's marker: unread.
        path, how = self.rng.choice(files), self.rng.choice(("truncate", "flip", "zero", "delete"))
        damage(path, how, self.rng)
        state["corrupted"].add(step)
        state["good"] = max([s for s in committed(state["workdir"]) if s not in state["corrupted"]],
                            default=0)
        record.update(ok=True, step=step, note=f"{how} {path.relative_to(state['workdir'])}")
        state["pending"].append(record)

    def nan(self, state, record):
        step = self.fault_step(state, 1)
        names = [n for n in tensor_names(self.ref_arrays) if n.startswith("d/params/")]
        index = self.rng.randrange(len(names))
        rc, out, err = self.segment(state, self.launch(state["workdir"], f"nan:step:{step}:{index}"))
        last = err.strip().splitlines()[-1] if err.strip() else ""
        named = (f"at step {step + 1}" in last or f"at step {step};" in last) and names[index] in last
        finite = all_finite(state["workdir"], state["good"]) if state["good"] else True
        record.update(ok=rc == 1 and named and finite, step=step, note=f"rc {rc}: {last[:160]}")
        state["pending"].append(record)

    def second_run(self, state, record):
        first = self.launch(state["workdir"])
        self.wait_for_lock(state["workdir"], first)
        second = self.launch(state["workdir"])
        _, err = second.communicate(timeout=300)
        last = err.strip().splitlines()[-1] if err.strip() else ""
        first.terminate()
        rc, _, _ = self.segment(state, first)
        refused = second.returncode == 1 and f"pid {first.pid}" in last and "in use" in last
        record.update(ok=refused and rc == 0, note=f"second rc {second.returncode}: {last[:160]}")
        state["pending"].append(record)

    def config_edit(self, state, record):
        edit = self.rng.choice(EDITS)
        jsonl = state["workdir"] / "metrics.jsonl"
        before = jsonl.read_bytes() if jsonl.exists() else b""
        rc, _, err = self.segment(state, self.launch(state["workdir"], extra=(edit,)))
        last = err.strip().splitlines()[-1] if err.strip() else ""
        key = edit[len("--config."):].split("=")[0]
        unchanged = (jsonl.read_bytes() if jsonl.exists() else b"") == before
        record.update(ok=rc == 1 and f"{key} cannot change" in last and unchanged,
                      note=f"{edit}: {last[:160]}")


# ---------------------------------------------------------------------- the table
def table(records) -> str:
    lines = ["| fault | injected | as specified | ended exact | steps lost beyond the last good checkpoint |",
             "| --- | ---: | ---: | ---: | ---: |"]
    by_kind = collections.defaultdict(list)
    for r in records:
        by_kind[r["kind"]].append(r)
    for kind in [*KINDS, *sorted(set(by_kind) - set(KINDS))]:
        rs = by_kind.get(kind, [])
        if rs:
            lines.append(f"| {kind} | {len(rs)} | {sum(r['ok'] for r in rs)} | "
                         f"{sum(r['exact'] for r in rs)} | {sum(r['lost'] for r in rs)} |")
    lines.append(f"| **all** | {len(records)} | {sum(r['ok'] for r in records)} | "
                 f"{sum(r['exact'] for r in records)} | {sum(r['lost'] for r in records)} |")
    return "\n".join(lines)


class Outcome(typing.NamedTuple):
    records: list   # One dict per fault: kind, ok, exact, lost, note.
    compared: list  # The names of the arrays every chain's end was compared on.


def soak(faults: int, seed: int, steps: int = 200, kinds=KINDS, plan: bool = False,
         root=None, config_args=()) -> Outcome:
    """Injects `faults` faults drawn from `kinds` (or `kinds` in order, with `plan`, in one
    chain). `config_args` go to every run (e.g. `--config.loss.regularizers=...`)."""
    with tempfile.TemporaryDirectory(prefix="jgan-soak-", dir=root) as tmp:
        root = pathlib.Path(tmp)
        runner = Soak(root, steps, seed, kinds, "disk_full" in kinds and can_mount(root), plan,
                      config_args)
        if "disk_full" in kinds and not runner.use_tmpfs:
            print("disk_full left out: this process cannot mount a tmpfs", flush=True)
        faults = min(faults, len(runner.kinds)) if plan else faults
        runner.reference()
        index = 0
        while len(runner.records) < faults:
            runner.chain(index, faults - len(runner.records))
            index += 1
            if plan:
                break
        shutil.rmtree(root, ignore_errors=True)
        return Outcome(runner.records, tensor_names(runner.ref_arrays))


def main():
    import logging  # noqa: PLC0415
    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # Each resume's purge, announced.
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--plan", action="store_true", help="one chain of --kinds, in order")
    parser.add_argument("--out", help="also write every fault's record to this JSON file")
    args = parser.parse_args()
    start = time.time()
    records = soak(args.faults, args.seed, args.steps, tuple(args.kinds.split(",")),
                   args.plan).records
    print(f"\n{table(records)}\n\n{len(records)} faults in {time.time() - start:.0f} s, seed {args.seed}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(records, indent=1, default=str))


if __name__ == "__main__":
    main()
