"""A package's exports loaded on first use (PEP 562), so importing the package costs nothing until a name is
read: `reconciler.posthog` and `reconciler.manifest` use it (docs/performance.md, "Start-up")."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module-level `__getattr__` of `package`, whose names live in the modules `homes` maps them to."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(home), name)

    return __getattr__
