"""Values from a knob's JSON schema: the fuzzer knows no knob by name.

Every misbehaviour knob declares the values it takes as a JSON schema
(`scenario/misbehaviours.py`); the fuzzer reads only that. Three questions:

- `systematic(schema, rng)`: a short list that covers the schema: each enum value,
  the const, an integer's boundaries and a few values between, an array of one item
  for each of its item's values, an object with each property in turn;
- `random_value(schema, rng)`: one value anywhere in the schema; integers and lengths
  lean to small numbers and boundaries (a field's interesting values are near 0, its
  limits, and powers of two), not uniform over a 2^32 range;
- `simpler(schema, value)`: candidates a minimizer tries in place of a value, simplest
  first (smaller integers, shorter strings and lists, fewer optional properties).

Only what the knob table uses is understood: const, enum, anyOf/oneOf, boolean,
integer (minimum, maximum), string (minLength, maxLength, and the hex pattern
`^([0-9a-fA-F]{2})*$`), array (items, minItems, maxItems) and object (properties,
required, minProperties). A schema with anything else raises ValueError, so a new
kind of knob is noticed rather than fuzzed wrongly (tests/test_fuzz.py runs every knob).
"""
from __future__ import annotations

import random
import string
from typing import Any, Callable

#: At most this many systematic values per schema: an object of enums would otherwise
#: be their product.
MAX_SYSTEMATIC = 48
#: Draws of a base object before `systematic` sweeps around one `accept` refuses.
MAX_DRAWS = 64
#: A string is hex bytes when its pattern is this one (the table's `_HEX`).
HEX_PATTERN = "^([0-9a-fA-F]{2})*$"
_UNDERSTOOD = {"const", "enum", "anyOf", "oneOf", "type", "minimum", "maximum", "minLength", "maxLength",
               "pattern", "items", "minItems", "maxItems", "properties", "required", "minProperties",
               "maxProperties", "additionalProperties", "description"}


def _check(schema: dict[str, Any]) -> None:
    unknown = set(schema) - _UNDERSTOOD
    if unknown:
        raise ValueError(f"schema keyword {sorted(unknown)[0]!r} is not understood by the fuzzer: {schema}")
    if "pattern" in schema and schema["pattern"] != HEX_PATTERN:
        raise ValueError(f"string pattern {schema['pattern']!r} is not understood by the fuzzer")


def _type(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        raise ValueError(f"a type list {t} is not understood by the fuzzer")
    return t or ""


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]] | None:
    return schema.get("anyOf") or schema.get("oneOf")


def _int_bounds(schema: dict[str, Any]) -> tuple[int, int]:
    return int(schema.get("minimum", -(2 ** 31))), int(schema.get("maximum", 2 ** 31 - 1))


def small(rng: random.Random, span: int) -> int:
    """A number in [0, span], log-uniform: as likely in [1, 2) as in [1024, 2048)."""
    if span <= 0:
        return 0
    bits = rng.randint(0, span.bit_length())
    return min(span, rng.randrange(1 << bits) if bits else 0)


def _random_int(schema: dict[str, Any], rng: random.Random) -> int:
    lo, hi = _int_bounds(schema)
    anchors = [lo, hi] + ([0] if lo <= 0 <= hi else [])
    anchor = rng.choice(anchors)
    step = small(rng, hi - lo)
    if rng.random() < 0.25 and step > 0:  # a power of two and its neighbours
        step = (1 << (step.bit_length() - 1)) + rng.choice((-1, 0, 1))
    value = anchor - step if anchor == hi else anchor + step if anchor == lo else anchor + rng.choice((-1, 1)) * step
    return max(lo, min(hi, value))


def _lengths(schema: dict[str, Any], unit: int = 1) -> tuple[int, int]:
    """(min, max) length of a string in units (2 hex digits = one byte)."""
    lo = int(schema.get("minLength", 0))
    hi = int(schema.get("maxLength", 64 * unit))
    return -(-lo // unit), hi // unit


def _string(schema: dict[str, Any], n: int, rng: random.Random) -> str:
    if schema.get("pattern") == HEX_PATTERN:
        return bytes(rng.randrange(256) for _ in range(n)).hex()
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _object(schema: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    """Properties in the schema's order, so the same value always prints the same."""
    order = list(schema.get("properties", {}))
    return {k: chosen[k] for k in order if k in chosen}


def random_value(schema: dict[str, Any], rng: random.Random) -> Any:
    """One value the schema admits, drawn with `rng`."""
    _check(schema)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    branches = _branches(schema)
    if branches:
        return random_value(rng.choice(branches), rng)
    t = _type(schema)
    if t == "boolean":
        return rng.random() < 0.5
    if t == "integer":
        return _random_int(schema, rng)
    if t == "string":
        unit = 2 if schema.get("pattern") == HEX_PATTERN else 1
        lo, hi = _lengths(schema, unit)
        return _string(schema, lo + small(rng, min(hi - lo, 4096)), rng)
    if t == "array":
        lo, hi = int(schema.get("minItems", 0)), int(schema.get("maxItems", 8))
        n = lo + small(rng, min(hi - lo, 3 if rng.random() < 0.9 else hi - lo))
        return [random_value(schema["items"], rng) for _ in range(n)]
    if t == "object":
        props = schema.get("properties", {})
        required = list(schema.get("required", []))
        chosen = {k: random_value(props[k], rng) for k in required}
        optional = [k for k in props if k not in chosen]
        for k in optional:
            if rng.random() < 0.4:
                chosen[k] = random_value(props[k], rng)
        while len(chosen) < int(schema.get("minProperties", 0)) and optional:
            k = rng.choice([k for k in optional if k not in chosen])
            chosen[k] = random_value(props[k], rng)
        return _object(schema, chosen)
    raise ValueError(f"schema {schema} has no type the fuzzer understands")


def _dedup(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if not any(v == s and type(v) is type(s) for s in seen):
            seen.append(v)
    return seen


def _cap(values: list[Any], rng: random.Random) -> list[Any]:
    if len(values) <= MAX_SYSTEMATIC:
        return values
    keep = sorted(rng.sample(range(len(values)), MAX_SYSTEMATIC))
    return [values[i] for i in keep]


def systematic(schema: dict[str, Any], rng: random.Random,
               accept: Callable[[Any], bool] | None = None) -> list[Any]:
    """A short list of values covering the schema (boundaries, each choice), then capped.

    With `accept`, only values it takes; an object's properties are then swept around a
    base object it takes (a knob whose fields constrain each other, such as an edit of a
    message the role sends, keeps most of its sweep)."""
    if accept is None:
        return _systematic(schema, rng, None)
    return _cap([v for v in _systematic(schema, rng, accept) if accept(v)], rng)


def _systematic(schema: dict[str, Any], rng: random.Random, accept: Callable[[Any], bool] | None) -> list[Any]:
    _check(schema)
    if "const" in schema:
        return [schema["const"]]
    if "enum" in schema:
        return list(schema["enum"])
    branches = _branches(schema)
    if branches:
        return _cap(_dedup([v for b in branches for v in systematic(b, rng)]), rng)
    t = _type(schema)
    if t == "boolean":
        return [True, False]
    if t == "integer":
        lo, hi = _int_bounds(schema)
        picks = [lo, lo + 1, hi - 1, hi] + [v for v in (0, 1, 255, 256, 65535, 65536) if lo <= v <= hi]
        picks += [_random_int(schema, rng) for _ in range(2)]
        return _dedup([v for v in picks if lo <= v <= hi])
    if t == "string":
        unit = 2 if schema.get("pattern") == HEX_PATTERN else 1
        lo, hi = _lengths(schema, unit)
        sizes = _dedup([lo, lo + 1, hi, *(n for n in (255, 256) if lo <= n <= hi), lo + small(rng, hi - lo)])
        return [_string(schema, n, rng) for n in sizes if lo <= n <= hi]
    if t == "array":
        lo, hi = int(schema.get("minItems", 0)), int(schema.get("maxItems", 8))
        items = systematic(schema["items"], rng)
        out: list[Any] = [[]] if lo == 0 else []
        out += [[v] * max(1, lo) for v in items] if max(1, lo) <= hi else []
        out.append([random_value(schema["items"], rng) for _ in range(hi)])  # the longest list
        return _cap(out, rng)
    if t == "object":
        props = schema.get("properties", {})
        required = list(schema.get("required", []))
        base = {k: random_value(props[k], rng) for k in required}
        for _ in range(MAX_DRAWS if accept is not None else 0):
            if accept(_object(schema, base)):  # type: ignore[misc]
                break
            base = {k: random_value(props[k], rng) for k in required}
        objects = []
        for k in props:  # each property in turn over its values, the others at a base value
            for v in systematic(props[k], rng):
                objects.append(_object(schema, {**base, k: v}))
        objects = [o for o in objects if len(o) >= int(schema.get("minProperties", 0))]
        return _cap(_dedup(objects), rng)
    raise ValueError(f"schema {schema} has no type the fuzzer understands")


def simpler(schema: dict[str, Any], value: Any) -> list[Any]:
    """Values to try in place of `value`, simplest first; none when it is as simple as it gets."""
    _check(schema)
    if "const" in schema:
        return []
    if "enum" in schema:
        choices = list(schema["enum"])
        return choices[:choices.index(value)] if value in choices else []
    branches = _branches(schema)
    if branches:
        for b in branches:
            if _admits(b, value):
                return simpler(b, value)
        return []
    t = _type(schema)
    if t == "integer" and isinstance(value, int):
        lo, hi = _int_bounds(schema)
        target = 0 if lo <= 0 <= hi else lo
        gap = value - target
        # target, then target + gap/2^k for k from large to small: nearest the target first.
        out = [target] + [target + int(gap / 2 ** k) for k in range(abs(gap).bit_length(), 0, -1)]
        return [v for v in _dedup(out) if v != value]
    if t == "string" and isinstance(value, str):
        unit = 2 if schema.get("pattern") == HEX_PATTERN else 1
        lo = _lengths(schema, unit)[0] * unit
        cuts = _dedup([lo, len(value) // 2 // unit * unit])
        return [value[:n] for n in cuts if lo <= n < len(value)]
    if t == "array" and isinstance(value, list):
        # Every entry made simpler at once first (each to the first of its candidates): one
        # test where entry by entry takes a round each, and thirty post-handshake messages
        # ran out of the minimizer's tests before they were all key_update.
        each = [simpler(schema["items"], item) for item in value]
        at_once = [options[0] if options else item for options, item in zip(each, value)]
        out = [at_once] if at_once != value and not schema.get("uniqueItems") else []
        for i, options in enumerate(each):
            out += [value[:i] + [s] + value[i + 1:] for s in options]
        return out
    if t == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        out = [{k: v for k, v in value.items() if k != drop} for drop in value
               if drop not in required and len(value) - 1 >= int(schema.get("minProperties", 0))]
        for k, v in value.items():
            out += [{**value, k: s} for s in simpler(props[k], v)]
        return out
    return []


def _admits(schema: dict[str, Any], value: Any) -> bool:
    """Does one anyOf branch take this value (enough to pick its simplifications)?"""
    if "enum" in schema:
        return value in schema["enum"]
    if "const" in schema:
        return value == schema["const"]
    t = _type(schema)
    return {"integer": isinstance(value, int) and not isinstance(value, bool), "string": isinstance(value, str),
            "boolean": isinstance(value, bool), "array": isinstance(value, list),
            "object": isinstance(value, dict)}.get(t, False)
