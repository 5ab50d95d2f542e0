"""Loading case files: YAML -> schema check -> cross-reference checks -> Case.

Every problem becomes one UserError line: file, field path, value, expectation.
"""
from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import jsonschema_rs
import yaml

from ..errors import UserError
from . import misbehaviours
from .model import KEY_PEERS, PYTHON_PEER, SESSION_STEPS, Case, Endpoint, Expectation, Pairing, Role, Step, StepKind
from .ranges import parse_range, possible
from .schema import TRUE_END, case_schema

if TYPE_CHECKING:
    import jsonschema

#: A case file is a page of YAML; anything this big, or nested this deep, is a mistake or an attack.
MAX_CASE_BYTES = 256 * 1024
MAX_DEPTH = 32
# libyaml's parser when PyYAML has it: ten times faster on a hundred case files.
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """Safe YAML that refuses a key given twice (the last would silently win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(None, None, "a key must be a plain name", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {_short(key)} is given twice in one mapping (first on line {seen[key].line + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor("tag:yaml.org,2002:map", lambda loader, node: loader.construct_mapping(node))
_AT = re.compile(r"^\+([0-9]+)(s|m|h|d)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: The case clock goes at most a century past its epoch (2026-01-01); Go's time and
#: the certificates of the run are meaningless beyond that.
MAX_AT_SECONDS = 36500 * 86400


@lru_cache(maxsize=1)
def release_lines() -> tuple[int, int]:
    """(first, last) minor of the lines a range may name: 1.19 to the line after the newest
    a provider offers (room for a devel build of the next release)."""
    from ..toolchains import newest_line
    from ..toolchains.lines import FIRST_LINE, minor_of
    return minor_of(FIRST_LINE), minor_of(newest_line()) + 1


def _short(value: Any, limit: int = 60) -> str:
    """A value as a message shows it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "...'" if text[0] in "'\"" else text[:limit - 3] + "..."


def _is_integer(checker: Any, value: Any) -> bool:
    # JSON Schema counts 1.0 as an integer; the peers do not.
    return isinstance(value, int) and not isinstance(value, bool)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    # Imported here: only an invalid case needs jsonschema (to say what is wrong), and
    # its import was a tenth of every command's start (60 ms).
    import jsonschema
    strict = jsonschema.validators.extend(
        jsonschema.Draft202012Validator,
        type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer))
    return strict(case_schema())


def _where(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: where, when PyYAML says, and what."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{where}malformed YAML: {problem}"


def _describe(err: jsonschema.ValidationError) -> str:
    """One readable line for a schema violation."""
    v = err.validator
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted((set(err.instance) - set(allowed)), key=str) if isinstance(err.instance, dict) else []
        return f"unknown key {_short(extra[0])}; expected one of: {', '.join(allowed)}" if extra else err.message
    if v == "enum":
        allowed = [str(a) for a in err.validator_value]
        text = f"{_short(err.instance)} is not allowed; expected one of: {', '.join(allowed)}"
        if isinstance(err.instance, (int, float)) and not isinstance(err.instance, bool) and str(err.instance) in allowed:
            text += f' (YAML read a number: quote it, "{err.instance}")'
        return text
    if v == "type":
        return f"{_short(err.instance)} has the wrong type; expected {err.validator_value}"
    if v == "required":
        return err.message.replace("is a required property", "is required")
    if v == "pattern":
        form = err.schema.get("description") or err.validator_value.replace(TRUE_END, "$")
        return f"{_short(err.instance)} does not match the expected form ({form})"
    if v in ("minProperties", "maxProperties") and err.schema.get("maxProperties") == 1:
        return f"a step has exactly one of: {', '.join(sorted(err.schema.get('properties', {})))}"
    return err.message if len(err.message) < 200 else err.message[:197] + "..."


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    return jsonschema_rs.validator_for(case_schema())


def _plain(value: Any) -> bool:
    """Only what JSON holds, and no float: the Rust validator counts 1.0 as an integer
    (as JSON Schema does, but not the peers), and a YAML date or a key that is not a
    string is left to jsonschema to name."""
    kind = type(value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    return kind is str or kind is int or kind is bool or value is None


def _valid_fast(data: Any) -> bool:
    """Valid by jsonschema_rs, fifty times faster than jsonschema (4 ms for the default
    cases against 190 ms); False sends the data to jsonschema, whose errors say where and
    what (test_schema_fast_path_agrees_with_jsonschema: never True where it refuses)."""
    return _plain(data) and _fast_validator().is_valid(data)


def _schema_error(path: str, data: Any) -> str | None:
    if _valid_fast(data):
        return None
    errors = sorted(_validator().iter_errors(data), key=lambda e: (len(list(e.absolute_path)), list(map(str, e.absolute_path))))
    if not errors:
        return None
    import jsonschema.exceptions
    best = jsonschema.exceptions.best_match(errors)
    # anyOf/oneOf errors hide the useful child: take the deepest one.
    while best.context:
        best = max(best.context, key=lambda e: len(list(e.absolute_path)))
    return f"{path}: {_where(best.absolute_path)}: {_describe(best)}"


def display(path: Path) -> str:
    """A path as the user would type it: relative to the working directory if inside it."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return str(path)


def _read_text(path: Path, shown: str) -> str:
    """The file as UTF-8 text, within the size limit; UserError otherwise."""
    if path.exists() and not path.is_file():
        raise UserError(f"{shown}: not a regular file (a pipe, a device or a folder); a case is a YAML file")
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CASE_BYTES + 1)
    except OSError as exc:
        dangling = " (a symlink to a missing file)" if path.is_symlink() and not path.exists() else ""
        raise UserError(f"{shown}: cannot read: {exc.strerror}{dangling}") from None
    if len(raw) > MAX_CASE_BYTES:
        raise UserError(f"{shown}: larger than {MAX_CASE_BYTES // 1024} KiB; a case file is a page of YAML")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{shown}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                        "case files are UTF-8 YAML") from None


def _refuse_aliases(text: str, shown: str) -> None:
    """Anchors and aliases let a few hundred bytes expand to gigabytes, and deep nesting
    exhausts the parser's stack; cases need neither. Read as a stream of events, before
    anything is built from it."""
    depth = 0
    for event in yaml.parse(text, Loader=_BASE_LOADER):
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise UserError(f"{shown}: line {mark.line + 1}, column {mark.column + 1}: YAML anchors and aliases "
                            "(&name, *name) are not allowed in case files; write the value out")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise UserError(f"{shown}: line {mark.line + 1}, column {mark.column + 1}: nested more than "
                                f"{MAX_DEPTH} deep; a case is a few levels of mappings and lists")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def load_file(path: Path, case_id: str, file: str) -> Case:
    """Load and validate one case file, as `case_id`, named `file` in reports; raise
    UserError naming the problem. (catalog.load_case gives the id and the name from
    the case folder.)"""
    shown = display(path)
    text = _read_text(path, shown)
    try:
        _refuse_aliases(text, shown)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise UserError(f"{shown}: {yaml_error_text(exc)}") from None
    if not isinstance(data, dict):
        raise UserError(f"{shown}: (top level): expected a mapping with description, source, steps")
    problem = _schema_error(shown, data)
    if problem:
        raise UserError(problem)
    return dataclasses.replace(_build(path, case_id, data), file=file)


def case_from_data(data: dict[str, Any], case_id: str, path: Path) -> Case:
    """A case made in memory (tlsdiff fuzz's stimuli), checked as a file at `path` holding
    this data would be, so whatever runs could be written out and loaded again."""
    problem = _schema_error(display(path), data)
    if problem:
        raise UserError(problem)
    return dataclasses.replace(_build(path, case_id, data), file=display(path))


def _peer(value: str, pairing: Pairing, fail: Callable[[str], UserError]) -> str:
    """An endpoint's `peer` (the schema checked its form): a, b, python, or a pinned release."""
    from ..toolchains.lines import FIRST_LINE, canonical
    if value == "b" and pairing != Pairing.CROSS:
        raise fail(f"{value!r} needs 'pairing: cross'")
    if value in KEY_PEERS or value == PYTHON_PEER:
        return value
    release = canonical(value)
    if release is None:
        raise fail(f"{value!r} is not a Go release tlsdiff can run; expected a line {FIRST_LINE} or newer "
                   "(\"1.21\") or an exact release (\"1.21.13\")")
    return release


def godebug_text(settings: dict[str, str]) -> str:
    """A case's `godebug` mapping as the GODEBUG value its peer runs under: "a=1,b=2", by name,
    so two endpoints with the same settings share a peer process."""
    return ",".join(f"{name}={settings[name]}" for name in sorted(settings))


def _build(path: Path, case_id: str, data: dict[str, Any]) -> Case:
    pairing = Pairing(data.get("pairing", Pairing.SAME))

    def fail(where: str, what: str) -> UserError:
        return UserError(f"{display(path)}: {where}: {what}")

    endpoints: dict[str, Endpoint] = {}
    for role, key in ((Role.SERVER, "servers"), (Role.CLIENT, "clients")):
        for name, settings in (data.get(key) or {}).items():
            if name in endpoints:
                raise fail(f"{key}.{name}", f"name {name!r} is used by a server and a client; names must be unique")
            settings = dict(settings or {})
            peer = _peer(settings.pop("peer", "a"), pairing, lambda what: fail(f"{key}.{name}.peer", what))
            godebug = godebug_text(settings.pop("godebug", {}))
            problem = misbehaviours.check(settings.get("misbehave") or {}, peer, f"{key}.{name}.misbehave", role)
            if problem:
                raise UserError(f"{display(path)}: {problem}")
            if "cache_capacity" in settings and "cache" not in settings:
                raise fail(f"{key}.{name}.cache_capacity", "goes with cache (a client without a cache has none)")
            retry = settings.get("ech_retry")
            if retry is not None:
                held = settings.get("ech_keys") or []
                extra = [n for n in retry if n not in held]
                if extra:
                    raise fail(f"{key}.{name}.ech_retry", f"{extra[0]!r} is not one of this server's ech_keys; "
                                                          f"expected one of: {', '.join(held) or 'none (set ech_keys)'}")
            if "ech_outer_extensions" in (settings.get("misbehave") or {}) and "ech_config_list" not in settings:
                raise fail(f"{key}.{name}.misbehave.ech_outer_extensions", "goes with ech_config_list (a client "
                                                                        "that does not offer ECH has no inner hello)")
            if "key_shares" in settings and peer != PYTHON_PEER:
                raise fail(f"{key}.{name}.key_shares", "needs 'peer: python' (a Go client picks its key shares itself)")
            if godebug and peer == PYTHON_PEER:
                raise fail(f"{key}.{name}.godebug", "needs a Go endpoint; 'peer: python' is tlspeer, which has no GODEBUG")
            if "get_client_certificate" in settings:
                if peer == PYTHON_PEER:
                    raise fail(f"{key}.{name}.get_client_certificate", "needs a Go client; a python client sends its "
                                                                       "certificate whatever the request names")
                if "certificate" not in settings:
                    raise fail(f"{key}.{name}.get_client_certificate", "goes with certificate (the callback "
                                                                       "returns the client's certificate)")
            endpoints[name] = Endpoint(name, role, settings, peer, godebug)

    for name, ep in endpoints.items():
        target = ep.settings.get("config_for_client")
        if target is not None and (target not in endpoints or endpoints[target].role != Role.SERVER):
            servers = sorted(n for n, e in endpoints.items() if e.role == Role.SERVER)
            raise fail(f"servers.{name}.config_for_client", f"{target!r} is not a server of this case; expected one of: {', '.join(servers)}")

    steps: list[Step] = []
    at = 0
    known = dict(endpoints)
    blobs: set[str] = set()
    connected: set[str] = set()  # clients that have had a connection
    for i, raw in enumerate(data["steps"]):
        name, args = next(iter(raw.items()))
        kind = StepKind(name)
        number = i + 1
        if kind == StepKind.CONNECT:
            connected.add(args["client"])
            for role in (Role.CLIENT, Role.SERVER):
                ep = known.get(args[role])
                if ep is None or ep.role != role:
                    names = sorted(n for n, e in known.items() if e.role == role)
                    raise fail(f"steps[{i}].connect.{role}", f"{args[role]!r} is not a {role} defined before this step; expected one of: {', '.join(names) or 'none'}")
            if "at" in args:
                m = _AT.match(args["at"])
                assert m  # the schema checked the form
                new_at = int(m.group(1)) * _UNIT[m.group(2)]
                if new_at > MAX_AT_SECONDS:
                    raise fail(f"steps[{i}].connect.at", f"{args['at']!r} is too far; expected at most +36500d")
                if new_at < at:
                    raise fail(f"steps[{i}].connect.at", f"{args['at']!r} goes back in time; the clock of each step must not be earlier than the step before")
                at = new_at
        elif kind == StepKind.CLONE:
            src = known.get(args["server"])
            if src is None or src.role != Role.SERVER:
                raise fail(f"steps[{i}].clone.server", f"{args['server']!r} is not a server defined before this step")
            if args["as"] in known:
                raise fail(f"steps[{i}].clone.as", f"{args['as']!r} is already defined")
            target = (args.get("set") or {}).get("config_for_client")
            if target is not None and target != args["as"] and (known.get(target) is None or known[target].role != Role.SERVER):
                raise fail(f"steps[{i}].clone.set.config_for_client", f"{target!r} is not a server defined before this step")
            # A clone lives in its source's peer process: same release, same GODEBUG.
            known[args["as"]] = dataclasses.replace(src, name=args["as"],
                                                    settings={**src.settings, **(args.get("set") or {})})
        elif kind in SESSION_STEPS:
            ep = known.get(args["client"])
            if ep is None or ep.role != Role.CLIENT or "cache" not in ep.settings:
                raise fail(f"steps[{i}].{kind}.client", f"{args['client']!r} is not a client with a cache defined before this step")
            if kind == StepKind.EXPORT_SESSION:
                if args["client"] not in connected:
                    raise fail(f"steps[{i}].export_session.client", f"{args['client']!r} has had no connection "
                                                                   "before this step; its cache holds nothing to export")
                blobs.add(args["as"])
            elif args["from"] not in blobs:
                raise fail(f"steps[{i}].import_session.from", f"{args['from']!r} was not exported by an earlier step; expected one of: {', '.join(sorted(blobs)) or 'none'}")
        elif kind == StepKind.FORGET_SESSION:
            ep = known.get(args["client"])
            if ep is None or ep.role != Role.CLIENT or "cache" not in ep.settings:
                raise fail(f"steps[{i}].forget_session.client", f"{args['client']!r} is not a client with a cache defined before this step")
        elif kind == StepKind.SET_TICKET_KEYS:
            ep = known.get(args["server"])
            if ep is None or ep.role != Role.SERVER:
                raise fail(f"steps[{i}].set_ticket_keys.server", f"{args['server']!r} is not a server defined before this step")
        steps.append(Step(number, kind, dict(args), at))

    expectations: list[Expectation] = []
    for i, raw in enumerate(data.get("expect") or []):
        where = f"expect[{i}]"
        n = raw["step"]
        wanted = tuple(sorted(SESSION_STEPS)) if "session" in raw else (StepKind.CONNECT,)
        if "session" in raw and ("client" in raw or "server" in raw):
            raise fail(where, "an expectation names either session or client/server, not both")
        if n > len(steps) or steps[n - 1].kind not in wanted:
            kinds = " or ".join(k.replace("_", " ") for k in wanted)
            raise fail(f"{where}.step", f"{n} is not a {kinds} step; expected one of: {', '.join(str(s.number) for s in steps if s.kind in wanted) or 'none'}")
        ranges = {}
        for key in ("releases", "a", "b"):
            if key in raw:
                if (key == "releases") != (pairing == Pairing.SAME):
                    expected = "releases" if pairing == Pairing.SAME else "a and b"
                    raise fail(f"{where}.{key}", f"pairing {str(pairing)!r} takes {expected}, not {key}")
                try:
                    ranges[key] = parse_range(raw[key])
                except ValueError as exc:
                    raise fail(f"{where}.{key}", str(exc)) from None
                first, last = release_lines()
                if not possible(ranges[key], first, last):
                    raise fail(f"{where}.{key}", f"{raw[key]!r} matches no Go release from 1.{first} to 1.{last}; "
                                                 "expected a range some release falls in (a line is 1.21, not 1.2)")
        sides = {side: dict(raw[side]) for side in ("client", "server", "session") if side in raw}
        expectations.append(Expectation(n, sides, ranges.get("releases"), ranges.get("a"), ranges.get("b"), raw.get("why", ""), i))

    return Case(
        id=case_id,
        path=path,
        description=data["description"],
        source=data["source"],
        tags=tuple(data.get("tags") or ()),
        pairing=pairing,
        endpoints=known,
        steps=tuple(steps),
        expectations=tuple(expectations),
    )
