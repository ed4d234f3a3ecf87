"""Declared schemas for the JSON files a user can be handed (recipes, sessions, vector files, a
checkpoint's train state): types, ranges, list lengths, name lengths, and finiteness after the cast to
float32, checked before any field is used.

A schema is a tree of the small classes below; `check(value, where)` returns the cleaned value (numbers
as Python floats, number lists as float32 arrays) or raises SchemaProblem naming the field by its path,
"panels.attributes.picked: expected a string, got a list". Unknown keys in an object are ignored, so a
newer file's extra fields do not stop an older program.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

FLOAT32_MAX = 3.4028234663852886e38


class SchemaProblem(Exception):
    """One field of a file that does not fit its schema; str() is "where: problem"."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}" if where else problem)
        self.where, self.problem = where, problem


def _kind(value) -> str:
    if value is None:
        return "null"
    return {bool: "true/false", int: "a whole number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def _number(value) -> bool:
    return type(value) in (int, float)      # not bool, which is an int to Python


class Schema:
    def check(self, value, where: str):
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Schema):
    max_len: int = 200
    min_len: int = 1
    cut: bool = False       # a longer string is cut to max_len (free text such as a description), not refused

    def check(self, value, where):
        if not isinstance(value, str):
            raise SchemaProblem(where, f"expected a string, got {_kind(value)}")
        if len(value) < self.min_len:
            raise SchemaProblem(where, "must not be empty")
        if len(value) > self.max_len and self.cut:
            return value[:self.max_len]
        if len(value) > self.max_len:
            raise SchemaProblem(where, f"is {len(value):,} characters long, over the limit of {self.max_len:,}")
        return value


@dataclass(frozen=True)
class Int(Schema):
    lo: int = 0
    hi: int = 2**31 - 1

    def check(self, value, where):
        if type(value) is not int:
            raise SchemaProblem(where, f"expected a whole number, got {_kind(value)}")
        if not self.lo <= value <= self.hi:
            raise SchemaProblem(where, f"{value} is outside {self.lo}..{self.hi}")
        return value


@dataclass(frozen=True)
class Float(Schema):
    lo: float = -FLOAT32_MAX
    hi: float = FLOAT32_MAX

    def check(self, value, where):
        if not _number(value):
            raise SchemaProblem(where, f"expected a number, got {_kind(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise SchemaProblem(where, "is not a finite number")
        if not self.lo <= value <= self.hi:
            raise SchemaProblem(where, f"{value:.6g} is outside {self.lo:.6g}..{self.hi:.6g}")
        return value


@dataclass(frozen=True)
class Bool(Schema):
    def check(self, value, where):
        if type(value) is not bool:
            raise SchemaProblem(where, f"expected true or false, got {_kind(value)}")
        return value


@dataclass(frozen=True)
class Choice(Schema):
    values: tuple

    def check(self, value, where):
        if not isinstance(value, (str, int, float, bool, type(None))) or value not in self.values:
            raise SchemaProblem(where, f"must be one of {', '.join(map(repr, self.values))}, "
                                       f"got {_short(value)}")
        return value


@dataclass(frozen=True)
class Numbers(Schema):
    """A list of numbers -> float32 array, each finite after the cast and within [-bound, bound]."""
    min_len: int = 1
    max_len: int = 4096
    bound: float = FLOAT32_MAX

    def check(self, value, where):
        if not isinstance(value, list):
            raise SchemaProblem(where, f"expected a list of numbers, got {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise SchemaProblem(where, f"has {len(value):,} numbers; expected {self.min_len}..{self.max_len:,}")
        for k, v in enumerate(value):
            if not _number(v):
                raise SchemaProblem(f"{where}[{k}]", f"expected a number, got {_kind(v)}")
        array = np.asarray(value, np.float64)
        bad = np.flatnonzero(~np.isfinite(array) | (np.abs(array) > self.bound))
        if len(bad):
            raise SchemaProblem(f"{where}[{bad[0]}]", f"{value[bad[0]]!r} is not a finite number within "
                                                      f"±{self.bound:.3g} (the float32 range is ±3.4e38)")
        return array.astype(np.float32)


@dataclass(frozen=True)
class List(Schema):
    item: Schema
    max_len: int = 1000
    min_len: int = 0

    def check(self, value, where):
        if not isinstance(value, list):
            raise SchemaProblem(where, f"expected a list, got {_kind(value)}")
        if not self.min_len <= len(value) <= self.max_len:
            raise SchemaProblem(where, f"has {len(value):,} items; expected {self.min_len}..{self.max_len:,}")
        return [self.item.check(v, f"{where}[{k}]") for k, v in enumerate(value)]


@dataclass(frozen=True)
class Optional(Schema):
    """null or the inner schema (null stays None)."""
    inner: Schema

    def check(self, value, where):
        return None if value is None else self.inner.check(value, where)


@dataclass(frozen=True)
class Anything(Schema):
    """Any JSON value (its size is bounded by the file's byte cap); used for panel data read elsewhere."""

    def check(self, value, where):
        return value


@dataclass(frozen=True)
class Obj(Schema):
    """An object with known fields: name -> schema; names in `required` must be present, the rest take
    `defaults` (or are left out) when absent."""
    fields: dict
    required: tuple = ()
    defaults: dict = field(default_factory=dict)

    def check(self, value, where):
        if not isinstance(value, dict):
            raise SchemaProblem(where, f"expected an object, got {_kind(value)}")
        out = {}
        for name, schema in self.fields.items():
            at = f"{where}.{name}" if where else name
            if name not in value:
                if name in self.required:
                    raise SchemaProblem(at, "is missing")
                if name in self.defaults:
                    out[name] = self.defaults[name]
                continue
            out[name] = schema.check(value[name], at)
        return out


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
