"""pydantic's validation errors as one line that names the key path and says what is allowed.

`parse` builds a params model from a mapping; its first error becomes a `ParamsError` such as
`organism.tune.spt.lr: must be > 0.0 and <= 1.0, got -1.0` or `organism.model.nmae: unknown key;
allowed: name, revision, ...`: the dotted key path (union members and tags skipped), then the
rule. Stage scripts turn it into one line on stderr and exit code 2 (pinpoint.stage.run_stage).
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo
from typing_extensions import is_typeddict

from pinpoint.errors import ParamsError


def parse(cls: type[BaseModel], raw: Any, path: str):
    """Build model `cls` from the mapping `raw` (None: all defaults); a ParamsError names the key path."""
    try:
        return cls.model_validate({} if raw is None else raw)
    except ValidationError as e:
        raise ParamsError(_message(cls, e.errors()[0], path)) from None


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _message(cls, err: dict, path: str) -> str:
    """Today's one-line message for one pydantic error in `cls`, read at key path `path`."""
    kind, loc, value = err["type"], err["loc"], err["input"]
    if kind == "extra_forbidden":
        where, tp, _ = _walk(cls, loc[:-1], path)
        tp = _unwrap(tp)[0]
        allowed = tp.model_fields if _is_model(tp) else typing.get_type_hints(tp)
        return f"{where}.{loc[-1]}: unknown key; allowed: {', '.join(allowed)}"
    where, tp, limits = _walk(cls, loc, path)
    if kind == "value_error":  # a validator's message starts with the key path below `where`
        return f"{where}.{err['ctx']['error']}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sides = [
            f"{op} {getattr(m, attr)}" for attr, op in _BOUNDS for m in limits if getattr(m, attr, None) is not None
        ]
        bare = _unwrap(tp)[0]
        if type(value) is int and (bare is float or float in typing.get_args(bare)):
            value = float(value)  # a number field holds floats: got -1.0
        return f"{where}: must be {' and '.join(sides)}, got {value!r}"
    if kind.endswith("_type") or kind == "literal_error" or len(_options(_unwrap(tp)[0])) > 1:
        return f"{where}: expected {_type_name(tp)}, got {value!r}"
    return f"{where}: {err['msg']}"


def _walk(cls, loc: tuple, path: str) -> tuple[str, Any, list]:
    """Follow a pydantic error location down the annotations from `cls`: the dotted key path (union members and
    tags skipped), the annotation it ends at (a plain union: the union, whatever member failed) and the range
    constraints there."""
    tp, limits, keys = cls, [], list(loc)
    while keys:
        bare, meta = _unwrap(tp)
        limits = limits + meta
        options = _options(bare)
        if len(options) == 1:  # X | None: pydantic adds no location for it
            tp = options[0]
            continue
        key = keys.pop(0)
        if options:
            tagged = {m.tag: o for o in options for m in _unwrap(o)[1] if isinstance(m, Tag)}
            if key not in tagged:
                return path, bare, limits
            tp = tagged[key]
            continue
        if _is_model(bare):
            field = bare.model_fields[key]
            tp, limits = field.annotation, list(field.metadata)
        elif is_typeddict(bare):
            tp, limits = typing.get_type_hints(bare, include_extras=True)[key], []
        else:  # a list's item or a mapping's value; a mapping's key where "[key]" follows
            args, limits = typing.get_args(bare), []
            tp = args[-1]
            if keys[:1] == ["[key]"]:
                tp = args[0]
                keys.pop(0)
        path += f"[{key}]" if typing.get_origin(bare) is list else f".{key}"
    return path, tp, limits + _unwrap(tp)[1]


def _unwrap(tp) -> tuple[Any, list]:
    """Annotated[T, ...] -> (T, its metadata with each Field's constraints spelled out)."""
    meta = []
    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        for m in extra:
            meta += m.metadata if isinstance(m, FieldInfo) else [m]
    return tp, meta


def _is_model(tp) -> bool:
    return isinstance(tp, type) and typing.get_origin(tp) is None and issubclass(tp, BaseModel)  # 3.10: list[int]


def _options(tp) -> list:
    """A union's members other than None (none: not a union)."""
    if typing.get_origin(tp) not in (Union, types.UnionType):
        return []
    return [a for a in typing.get_args(tp) if a is not type(None)]


def _type_name(tp) -> str:
    tp = _unwrap(tp)[0]
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict or is_typeddict(tp) or _is_model(tp):
        return "a mapping"
    if tp is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))
