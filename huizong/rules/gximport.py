"""Import Great Expectations without the two libraries it loads for expectations huizong never runs.

GX imports `scipy.stats` and `altair` at module level for one expectation (KL divergence: its
statistic and its chart) and two distribution metrics; together they are about 1.1 s of GX's 3 s
import, paid by every fresh process (`huizong run` from cron or a shell) before it validates
anything. Here each is stood in for by a module that imports the real one the first time any of
its attributes is read, so that nothing changes for code that does use them, only when the cost
is paid. (`importlib.util.LazyLoader` cannot do this on Python 3.11: the next `import` statement
naming the module reads its `__spec__`, which loads it.)
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

DEFERRED = ("scipy.stats", "altair")

_lock = threading.RLock()


class _Deferred(types.ModuleType):
    """Stands in `sys.modules` for a module until one of its attributes is read."""

    def __getattr__(self, attr: str) -> Any:
        with _lock:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
                real = importlib.import_module(self.__name__)
                self.__dict__.update(real.__dict__)
            else:  # loaded already, through another stand-in or directly
                real = sys.modules[self.__name__]
                self.__dict__.update(real.__dict__)
        return getattr(real, attr)


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # imports the parent package (scipy: a few ms), not the module
    if spec is None:
        return
    stand_in = _Deferred(name)
    stand_in.__spec__ = spec
    stand_in.__loader__ = spec.loader
    if spec.submodule_search_locations is not None:  # a package: its submodules import without loading it
        stand_in.__path__ = list(spec.submodule_search_locations)
        stand_in.__package__ = name
    else:
        stand_in.__package__ = name.rpartition(".")[0]
    sys.modules[name] = stand_in


def import_gx() -> types.ModuleType:
    """`great_expectations`, imported with the libraries of `DEFERRED` deferred.

    GX's import makes some 230,000 objects the cyclic collector tracks, all living as long as the
    process. The collector would walk them again and again while they are made (four full passes,
    about 0.25 s of a fresh `huizong run`) and in every full pass after; so it waits for the import,
    and `gc.freeze` then sets what is alive aside for good (garbage left meanwhile is collected by
    the next pass, as usual)."""
    with _lock:
        if "great_expectations" not in sys.modules:
            for name in DEFERRED:
                _defer(name)
            was = gc.isenabled()
            gc.disable()
            try:
                import great_expectations
            finally:
                if was:
                    gc.freeze()
                    gc.enable()
    import great_expectations

    return great_expectations
