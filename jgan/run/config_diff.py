"""Which config changes a resume accepts: the run's config against the one its checkpoint saved.

Cadences, the run's length and where files live may change on resume (a note lists them); a change
to anything that shapes the training itself (model, loss, optimizer, batch size, dataset, seed,
EMA, parallel mode) is refused unless the user passes `--allow_config_change`.
"""
from typing import Any

# Keys (or "section." prefixes) whose change leaves the training the same.
SAFE = ("num_steps", "log_every", "sample_every", "eval_every", "checkpoint_every",
        "num_sample_images", "checkpoint.", "eval.", "dataset.data_dir", "dataset.source")
_ABSENT = "(absent)"
# Keys added after configs were first saved, each with the value that trains as a config without
# it did: a saved config missing one of them equals a current one holding that value.
ADDED = {"model.precision": "float32", "loss.regularizers": [], "loss.augment": "",
         "dataset.fit": "resize", "ema.rampup": 0.0,
         **{f"optimizer.{p}.{k}": v for p in ("g", "d")
            for k, v in (("schedule", "constant"), ("warmup_steps", 0))}}


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b": value} of a nested JSON dict; lists stay values (JSON has no tuples)."""
    if not isinstance(tree, dict):
        return {prefix[:-1]: tree}
    flat = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat


def differences(saved: dict, current: dict) -> dict[str, tuple]:
    """{key: (saved value, current value)} for every key whose value differs or exists in one only."""
    a, b = flatten(saved), flatten(current)
    a = {**{k: v for k, v in ADDED.items() if k in b}, **a}  # An older config's implicit values.
    return {k: (a.get(k, _ABSENT), b.get(k, _ABSENT)) for k in sorted(set(a) | set(b))
            if a.get(k, _ABSENT) != b.get(k, _ABSENT)}


def is_safe(key: str) -> bool:
    return any(key == s or (s.endswith(".") and key.startswith(s)) for s in SAFE)


def describe(diffs: dict[str, tuple]) -> str:
    return ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in diffs.items())


def check(saved: dict, current: dict, where: str, allow: bool = False) -> str:
    """Raises ValueError (one line) for an unsafe change unless `allow`; returns a note or ""."""
    diffs = differences(saved, current)
    if not diffs:
        return ""
    unsafe = [k for k in diffs if not is_safe(k)]
    if unsafe and not allow:
        raise ValueError(f"resuming {where} with a config that differs from the saved one in "
                         f"{describe(diffs)}; {', '.join(unsafe)} cannot change on resume without "
                         f"--allow_config_change (allow_config_change=True), or use another --workdir")
    why = "allowed by --allow_config_change" if unsafe else "safe to change on resume"
    return f"jgan: resuming {where} with {describe(diffs)} ({why})"


def unknown_keys(saved: dict, schema: dict, free: tuple = ("model.kwargs.",)) -> list[str]:
    """Keys of `saved` missing from `schema` (a default config), outside free-form sections."""
    known = flatten(schema)
    return [k for k in flatten(saved) if k not in known and not k.startswith(free)]
