"""A JSON Schema compiled into one Python predicate: is this instance valid, yes or no.

jsonschema walks a schema anew for every instance, which costs about 0.6 ms per result
of a dlbench file (7 s for 10,000 results); a predicate built once from the schema checks
the same result in a few microseconds. It covers exactly the keywords dlbench's schemas
use — type, const, enum, properties, required, additionalProperties, items, minItems,
maxItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum, if/then/else and boolean
schemas — with the semantics of draft 2020-12 as jsonschema applies them, and the same
type checker as `dlbench.schema` (numbers finite and within a float; bools are no
numbers). A schema with any other keyword is refused when compiled (`Unsupported`), so
the predicate never decides what it does not know. The predicate only says yes or no:
where it says no, jsonschema still finds and words the error, so a bad file gets the very
message it got before.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]
# Keywords that annotate and never change validity.
ANNOTATIONS = frozenset({"description", "title", "$schema", "$id", "$comment", "default",
                         "examples"})
BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, limit: v >= limit, "exclusiveMinimum": lambda v, limit: v > limit,
    "maximum": lambda v, limit: v <= limit, "exclusiveMaximum": lambda v, limit: v < limit}


class Unsupported(ValueError):
    """The schema uses a keyword this compiler does not know: validate with jsonschema."""


def is_number(value: Any) -> bool:
    """dlbench's "number": an int or float, not a bool, finite and within a float."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) \
        and abs(value) <= sys.float_info.max


def is_integer(value: Any) -> bool:
    return is_number(value) and (isinstance(value, int) or value.is_integer())


TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None, "number": is_number, "integer": is_integer}


def equal(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema's `const` and `enum` apply it: booleans are not numbers,
    1 equals 1.0, and strings, null and numbers compare by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        raise Unsupported("const or enum of an object or array")
    return type(a) is type(b) and a == b


def _type_check(types: Any) -> Check:
    names = [types] if isinstance(types, str) else list(types)
    if any(n not in TYPES for n in names):
        raise Unsupported(f"type {types!r}")
    return any_of([TYPES[n] for n in names])


def any_of(checks: list[Check]) -> Check:
    """True where one of `checks` is."""
    return _joined(checks, any)


def all_of(checks: list[Check]) -> Check:
    """True where every one of `checks` is."""
    return _joined(checks, all)


def _joined(checks: list[Check], join: Callable[[Any], bool]) -> Check:
    # One or two checks, the usual case, without a generator: this runs millions of times.
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return (lambda v: a(v) or b(v)) if join is any else (lambda v: a(v) and b(v))
    return lambda v: join(c(v) for c in checks)


def _value_check(const: Any) -> Check:
    equal(const, const)  # refuses an object or array now, not on first use
    return lambda v: not isinstance(v, dict | list) and equal(v, const)


def _enum_check(values: list[Any]) -> Check:
    for value in values:
        equal(value, value)
    return lambda v: not isinstance(v, dict | list) and any(equal(v, x) for x in values)


def _object_check(schema: Mapping[str, Any]) -> Check:
    properties = {k: compile_schema(s) for k, s in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    other = schema.get("additionalProperties", True)
    rest = None if other is True else compile_schema(other)

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for k in required:
            if k not in v:
                return False
        for key, item in v.items():
            sub = properties.get(key, rest)
            if sub is not None and not sub(item):
                return False
        return True

    return check


def _numbers_check(schema: Mapping[str, Any]) -> Check | None:
    """An array of bounded numbers (samples: thousands of them). Where every item is a
    float and their sum is finite (so is each of them: a NaN or an infinity makes the sum
    NaN or infinite), the bounds are checked on the least and greatest alone, in C loops;
    any other array gets the exact check of each item."""
    if not isinstance(schema, Mapping) or schema.get("type") != "number" \
            or not set(schema) <= {"type", *BOUNDS, *ANNOTATIONS}:
        return None
    each = compile_schema(schema)
    lows = [(BOUNDS[k], limit) for k, limit in schema.items() if k in ("minimum",
                                                                       "exclusiveMinimum")]
    highs = [(BOUNDS[k], limit) for k, limit in schema.items() if k in ("maximum",
                                                                        "exclusiveMaximum")]

    def check(values: list[Any]) -> bool:
        if values and set(map(type, values)) == {float} and math.isfinite(sum(values)):
            low, high = (min(values), max(values)) if lows or highs else (0.0, 0.0)
            return all(ok(low, limit) for ok, limit in lows) \
                and all(ok(high, limit) for ok, limit in highs)
        return all(map(each, values))

    return check


def _array_check(schema: Mapping[str, Any]) -> Check:
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    items = schema.get("items", True)
    every = _numbers_check(items) or (None if items is True else _each(compile_schema(items)))

    def check(v: Any) -> bool:
        if not isinstance(v, list):
            return True
        if len(v) < low or (high is not None and len(v) > high):
            return False
        return every is None or every(v)

    return check


def _each(check: Check) -> Check:
    return lambda values: all(map(check, values))


def _bounds_check(schema: Mapping[str, Any]) -> Check:
    bounds = [(BOUNDS[k], limit) for k, limit in schema.items() if k in BOUNDS]

    def check(v: Any) -> bool:
        if not is_number(v):
            return True
        return all(ok(v, limit) for ok, limit in bounds)

    return check


def _conditional(schema: Mapping[str, Any]) -> Check:
    test = compile_schema(schema["if"])
    then = compile_schema(schema.get("then", True))
    otherwise = compile_schema(schema.get("else", True))
    return lambda v: then(v) if test(v) else otherwise(v)


# Each group of keywords and the builder of its check.
BUILDERS: tuple[tuple[frozenset[str], Callable[[Mapping[str, Any]], Check]], ...] = (
    (frozenset({"type"}), lambda s: _type_check(s["type"])),
    (frozenset({"const"}), lambda s: _value_check(s["const"])),
    (frozenset({"enum"}), lambda s: _enum_check(list(s["enum"]))),
    (frozenset({"properties", "required", "additionalProperties"}), lambda s: _object_check(s)),
    (frozenset({"items", "minItems", "maxItems"}), lambda s: _array_check(s)),
    (frozenset(BOUNDS), lambda s: _bounds_check(s)),
    (frozenset({"if"}), lambda s: _conditional(s)),
)
KNOWN = frozenset({"type", "const", "enum", "properties", "required", "additionalProperties",
                   "items", "minItems", "maxItems", "if", "then", "else", *BOUNDS,
                   *ANNOTATIONS})


def compile_schema(schema: Any) -> Check:
    """The predicate of `schema` (references already inlined): True exactly where
    jsonschema with dlbench's type checker finds no error. Raises Unsupported."""
    if schema is True or schema == {}:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, Mapping):
        raise Unsupported(f"schema {schema!r}")
    unknown = set(schema) - KNOWN
    if unknown:
        raise Unsupported(f"keywords {sorted(unknown)}")
    checks = [build(schema) for keywords, build in BUILDERS if keywords & set(schema)]
    return all_of(checks) if checks else (lambda v: True)
