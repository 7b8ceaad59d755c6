"""The published JSON Schemas of the files dlbench reads, and validation against them.

`result.schema.json` is the dlbench result file (schema_version 1, docs/result-file.md);
`pytest-benchmark.schema.json` the fields of pytest-benchmark JSON that `compare` reads.
Every input is validated with `jsonschema` before any use, so that the code after it can
trust every type it reads: a file that fails is refused with one line naming it, the JSON
path of the first bad field and what was expected there.

Numbers must be finite. JSON has no NaN or Infinity, but Python's json module reads them,
and a NaN sample would make every comparison with it false: the validator's "number" and
"integer" therefore exclude them (and integers too large for a float), which changes
nothing for standard JSON. jsonschema is imported on first use (a quarter of a second),
so that `dlbench --help` and `dlbench run` never pay for it.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any

from dlbench.errors import ResultFileError
from dlbench.schema import compiled

RESULT = "result.schema.json"
PYTEST_BENCHMARK = "pytest-benchmark.schema.json"
# Deeper than any file dlbench or pytest-benchmark writes (6 levels) by far, and shallow
# enough that code walking an open record recursively never nears Python's recursion limit.
MAX_DEPTH = 64
# A value is quoted in an error message up to this many characters.
SHOWN_CHARS = 40
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ARTICLE = {"object": "an object", "array": "an array", "integer": "an integer",
            "number": "a number", "string": "a string", "boolean": "true or false",
            "null": "null"}


def text(name: str) -> str:
    """A schema file's text, as shipped in the package."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@functools.cache
def load(name: str) -> dict[str, Any]:
    return json.loads(text(name))


def inlined(node: Any, defs: Mapping[str, Any]) -> Any:
    """`node` with every local "$ref" to "#/$defs/NAME" replaced by the definition itself
    (the schemas have no recursive definition): jsonschema then validates without looking
    references up, which took 40% of its time."""
    if isinstance(node, list):
        return [inlined(v, defs) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref", "")
    if ref.startswith("#/$defs/"):
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return inlined({**defs[ref.removeprefix("#/$defs/")], **rest}, defs)
    return {k: inlined(v, defs) for k, v in node.items() if k != "$defs"}


def _fits_float(value: int | float) -> bool:
    return math.isfinite(value) if isinstance(value, float) else abs(value) <= sys.float_info.max


@functools.cache
def _validator_class() -> Any:
    import jsonschema

    base = jsonschema.Draft202012Validator

    def number(_checker: Any, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) \
            and _fits_float(value)

    def integer(checker: Any, value: Any) -> bool:
        return number(checker, value) and (isinstance(value, int) or value.is_integer())

    def items(validator: Any, items: Any, instance: Any, schema: Any) -> Any:
        # Arrays of samples hold thousands of numbers: check them in one loop, and let
        # jsonschema descend (and say where) only when one of them fails.
        if not (isinstance(instance, list) and _numbers_pass(items, instance)):
            yield from base.VALIDATORS["items"](validator, items, instance, schema)

    checker = base.TYPE_CHECKER.redefine_many({"number": number, "integer": integer})
    return jsonschema.validators.extend(base, {"items": items}, type_checker=checker)


def _numbers_pass(schema: Any, values: list[Any]) -> bool:
    """Whether every value passes `schema` when it is {"type": "number"} with bounds only;
    False (undecided) for any other schema."""
    if not isinstance(schema, dict) or schema.get("type") != "number" \
            or not set(schema) <= {"type", *_BOUNDS, "description"}:
        return False
    checks = [(_BOUNDS[k], limit) for k, limit in schema.items() if k in _BOUNDS]
    return all(
        not isinstance(v, bool) and isinstance(v, int | float) and _fits_float(v)
        and all(passes(v, limit) for passes, limit in checks) for v in values)


_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, limit: v >= limit, "exclusiveMinimum": lambda v, limit: v > limit,
    "maximum": lambda v, limit: v <= limit, "exclusiveMaximum": lambda v, limit: v < limit}


# The array each kind of file keeps its many entries in: validated one entry at a time.
ENTRIES = {RESULT: "results", PYTEST_BENCHMARK: "benchmarks"}
# Progress is told after this many entries: often enough for a bar, rarely enough to cost
# nothing next to validation itself.
PROGRESS_EVERY = 500


@functools.cache
def validators(name: str) -> tuple[Any, Any, Callable[[Any], bool]]:
    """Validators of schema `name`: jsonschema's of the document without its entries and of
    one entry, and the entry's compiled predicate (`compiled`), which decides validity in
    microseconds; jsonschema words the error where it says no. A schema the compiler does
    not cover gets jsonschema alone."""
    root = load(name)
    whole = inlined(root, root.get("$defs", {}))
    key = ENTRIES[name]
    entry = whole["properties"][key]["items"]
    outline = {**whole, "properties": {**whole["properties"],
                                       key: {**whole["properties"][key], "items": True}}}
    cls = _validator_class()
    try:
        fast = compiled.compile_schema(entry)
    except compiled.Unsupported:
        fast = _never
    return cls(outline), cls(entry), fast


def _never(_: Any) -> bool:
    return False


def validate(data: Any, name: str, source: str, what: str,
             progress: Callable[[int, int], None] | None = None) -> None:
    """Refuse `data` (read from `source`) unless it matches schema `name`: a ResultFileError
    naming the file, the JSON path of the first bad field and what was expected there.
    `progress(done, total)` is told how many entries are checked so far."""
    outline, entry, fast = validators(name)
    key = ENTRIES[name]
    try:
        _raise_first(outline.iter_errors(data), (), source, what)
        entries = data[key]
        for start in range(0, len(entries), PROGRESS_EVERY):
            for i, item in enumerate(entries[start:start + PROGRESS_EVERY], start):
                if not fast(item):
                    _raise_first(entry.iter_errors(item), (key, i), source, what)
            if progress is not None:
                progress(min(start + PROGRESS_EVERY, len(entries)), len(entries))
    except RecursionError:
        raise ResultFileError(f"{source}: nested too deeply to read") from None


def _raise_first(errors: Iterable[Any], prefix: tuple[str | int, ...], source: str,
                 what: str) -> None:
    error = next(iter(errors), None)
    if error is not None:
        where = json_path((*prefix, *error.absolute_path))
        raise ResultFileError(f"{source}: does not match {what} at {where}: "
                              f"{expected(error)}")


def check_depth(value: Any, source: str, where: str, limit: int = MAX_DEPTH) -> None:
    """Refuse objects and arrays nested deeper than `limit` under `where`: records dlbench
    walks recursively (environments are flattened to compare them)."""
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > limit:
            raise ResultFileError(f"{source}: $.{where} is nested deeper than {limit} levels")
        if isinstance(item, Mapping):
            todo += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            todo += [(v, depth + 1) for v in item]


def json_path(parts: Iterable[str | int]) -> str:
    """'$.results[2].samples_s[0]': keys that are not plain names are quoted, and every
    character that could break the line is escaped."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _NAME.match(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def shown(value: Any) -> str:
    """A value as a reader of the error needs it: JSON spelling, short, on one line."""
    if isinstance(value, Mapping):
        return f"an object ({len(value)} keys)"
    if isinstance(value, list):
        return f"an array ({len(value)} items)"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int) and not isinstance(value, bool) and not _fits_float(value):
        return f"an integer of {len(str(abs(value)))} digits"
    spelled = json.dumps(value)
    return spelled if len(spelled) <= SHOWN_CHARS else spelled[:SHOWN_CHARS - 1] + "…"


def _types(value: Any) -> str:
    names = [value] if isinstance(value, str) else list(value)
    return " or ".join(_ARTICLE.get(n, n) for n in names)


def _unfit_number(types: Any, value: Any) -> bool:
    wanted = {types} if isinstance(types, str) else set(types)
    return bool(wanted & {"number", "integer"}) and isinstance(value, int | float) \
        and not isinstance(value, bool) and not _fits_float(value)


def _bound(word: str) -> Callable[[Any, Any], str]:
    return lambda limit, got: f"expected a number {word} {limit:g}, got {shown(got)}"


_EXPECTED: dict[str, Callable[[Any, Any], str]] = {
    "type": lambda types, got: f"expected {_types(types)}, got {shown(got)}"
    + (" (numbers must be finite)" if _unfit_number(types, got) else ""),
    "const": lambda value, got: f"expected {json.dumps(value)}, got {shown(got)}",
    "enum": lambda values, got: "expected one of " + ", ".join(map(json.dumps, values))
    + f", got {shown(got)}",
    "minimum": _bound(">="),
    "exclusiveMinimum": _bound(">"),
    "maximum": _bound("<="),
    "exclusiveMaximum": _bound("<"),
    "minItems": lambda n, got: f"expected at least {n} item(s), got {len(got)}",
    "maxItems": lambda n, got: f"expected at most {n} item(s), got {len(got)}",
}


def expected(error: Any) -> str:
    """What the schema wanted where `error` (a jsonschema ValidationError) was found."""
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return (f"required key {json.dumps(missing[0] if missing else '?')} is missing"
                + (' (for status "ok")' if "then" in error.relative_schema_path else ""))
    explain = _EXPECTED.get(error.validator)
    text = (explain(error.validator_value, error.instance) if explain is not None
            else " ".join(str(error.message).split())[:200])
    # The schema's one condition: what a result with status "ok" must hold.
    return text + (' (for status "ok")' if "then" in error.relative_schema_path else "")
