"""Enumerations whose members carry their words: a status's Chinese label, its colour, its reason."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Worded(StrEnum):
    """A StrEnum whose members are written `NAME = value, word, …`; a subclass names the words, in
    order, in `__words__` (and annotates them). The member is its value wherever a string goes
    (the ledger, a CSV, a comparison) and carries its words as attributes."""

    __words__: tuple[str, ...] = ()

    def __new__(cls, value: str, *words: Any) -> Worded:
        member = str.__new__(cls, value)
        member._value_ = value
        for name, word in zip(cls.__words__, words, strict=True):
            setattr(member, name, word)
        return member

    @classmethod
    def of(cls, value: str) -> Any:
        """The member a stored value names."""
        return cls._value2member_map_[value]
