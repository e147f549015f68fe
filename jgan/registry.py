"""One registry type for every swappable part: models, losses, metrics, datasets, optimizers.

    MODELS = Registry("model")

    @MODELS.register("dcgan")
    def dcgan(**kwargs): ...

    MODELS.get("dcgan")      # unknown names: one-line ValueError listing the valid ones

A name registered twice is an error that names both places; the same line registering again (a
module re-imported, e.g. by `python -m`) replaces its own entry.
"""
import inspect
from typing import Any, Callable, Iterator, Optional


class Registry:
    """Names to values of one kind (`kind` appears in error messages)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}
        self._places: dict[str, str] = {}

    def register(self, name: str, value: Any = None) -> Callable:
        """`register(name, value)`, or `@register(name)` above a function or class."""
        place = _caller_place()
        if value is not None:
            self._add(name, value, place)
            return value

        def decorate(fn):
            self._add(name, fn, place)
            return fn
        return decorate

    def get(self, name: str) -> Any:
        if name not in self._entries:
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of {self.names()}")
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _add(self, name: str, value: Any, place: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name {name!r}; expected a non-empty string")
        previous: Optional[str] = self._places.get(name)
        if previous is not None and previous != place:
            raise ValueError(f"{self.kind} {name!r} is registered twice: at {previous} and at "
                             f"{place}")
        self._entries[name], self._places[name] = value, place


def _caller_place() -> str:
    """file:line of the code that called `register` (two frames up)."""
    frame = inspect.currentframe().f_back.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"
