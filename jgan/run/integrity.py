"""Fingerprints that tell a checkpoint from a corrupted copy of it.

Orbax's files carry no checksums: a flipped byte in an array file restores silently. So `meta`
records at save a fingerprint of every array of the state (a position-weighted sum of its bytes in
uint32 arithmetic: exact, so the same on any device and in any reduction order, and any change of
one byte changes it) and the SHA-256 of the `data` and `config` items; a restore recomputes and
compares them.
"""
import hashlib
import json

import jax
import jax.numpy as jnp


def _fingerprint(x: jax.Array) -> jax.Array:
    x = x.astype(jnp.uint8) if x.dtype == jnp.bool_ else x
    bytes_ = jax.lax.bitcast_convert_type(x, jnp.uint8).reshape(-1).astype(jnp.uint32)
    weights = jnp.arange(bytes_.size, dtype=jnp.uint32) * 2 + 1  # Odd: invertible mod 2**32.
    return jnp.sum(bytes_ * weights, dtype=jnp.uint32)


_fingerprints = jax.jit(lambda tree: jax.tree.map(_fingerprint, tree))


def fingerprints(state_dict: dict) -> dict[str, int]:
    """{"g/params/Dense_0/kernel": uint32 fingerprint} of every array of a state dict."""
    flat = jax.tree_util.tree_flatten_with_path(_fingerprints(state_dict))[0]
    return {path_name(path): int(value) for path, value in flat}


def digest(value) -> str:
    """SHA-256 of a JSON value, independent of key order."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def record(state_dict: dict, data_state, config: dict) -> dict:
    """What `meta` holds to verify a restore."""
    return {"fingerprints": fingerprints(state_dict), "data_sha256": digest(data_state),
            "config_sha256": digest(config)}


def verify_json(meta: dict, step: int, config: dict) -> None:
    """Raises ValueError if `meta` is not step `step`'s or `config` is not the one saved."""
    if not isinstance(meta, dict) or meta.get("step") != step:
        raise ValueError(f"meta names step {meta.get('step') if isinstance(meta, dict) else meta!r}")
    if "config_sha256" in meta and digest(config) != meta["config_sha256"]:
        raise ValueError("config differs from its SHA-256 in meta")


def verify_state(meta: dict, state_dict: dict, data_state=None, partial: bool = False) -> None:
    """Raises ValueError naming the first array (or the data state) that differs from `meta`;
    `partial`: `state_dict` holds some of the arrays (the generator's), and no data state."""
    if not partial and "data_sha256" in meta and digest(data_state) != meta["data_sha256"]:
        raise ValueError("data state differs from its SHA-256 in meta")
    saved = meta.get("fingerprints")
    if saved is None:  # A checkpoint written before fingerprints: nothing to compare.
        return
    now = fingerprints(state_dict)
    for name in sorted(set(now) if partial else set(saved) | set(now)):
        if saved.get(name) != now.get(name):
            raise ValueError(f"array {name} differs from its fingerprint in meta")


def path_name(path) -> str:
    """"g/params/Dense_0/kernel" of a pytree path (dict keys, sequence indices, attributes)."""
    part = lambda k: next((getattr(k, a) for a in ("key", "idx", "name") if hasattr(k, a)), k)
    return "/".join(str(part(k)) for k in path)
