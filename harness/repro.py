"""`tlsdiff repro FILE.yaml`: a case written from a bug report, anywhere on disk (or a
case tlsdiff ships, by its id), run on every release asked for; per release one compact
line per step of what happened, which releases agree (the agreement classes) and, if
the file expects anything, the verdicts."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .compare import CaseResult, Verdict
from .errors import UserError
from .observe.fields import alert_words
from .scenario.catalog import SUFFIXES, load_case, load_file, select_files
from .scenario.model import Case, key_text


def case_named(text: str) -> Case:
    """The case file the user wrote, validated like any case; its id is its file name.
    An argument without a .yaml or .yml suffix may be the id of a case tlsdiff ships instead
    (`bugs/go-79866-...`), as bisect and explain take."""
    if not text.strip():
        raise UserError("repro: an empty file name; expected a case file (FILE.yaml)")
    path = Path(text)
    if path.suffix not in SUFFIXES:
        return _shipped(text)
    if not path.exists() and not path.is_symlink():
        raise UserError(f"repro: {text!r} does not exist; expected a case file (FILE.yaml)")
    return load_case(path)


def _shipped(text: str) -> Case:
    """The one case tlsdiff ships that `text` names (an id, or a prefix of exactly one), as
    bisect and explain find it."""
    from .paths import CASES_DIR
    try:
        found = select_files([text], [CASES_DIR])
    except UserError:  # matches nothing, or not as an id
        found = []
    if len(found) != 1:
        named = f"names {len(found)} cases tlsdiff ships" if found else "is not the id of a case tlsdiff ships"
        raise UserError(f"repro: {text!r} is not a .yaml or .yml file and {named}; expected a case file (FILE.yaml) "
                        "or one case's id ('tlsdiff run --list')")
    path, cid, shown = found[0]
    return load_file(path, cid, shown)


#: ConnectionState.Version of a side whose hellos never settled one.
NO_VERSION = "0x0000"


def side_line(side: dict[str, Any]) -> str:
    """A side's outcome fields on one line: version and suite, completion, resumption,
    ECH, HelloRetryRequest, tickets, cache calls, alerts, errors (whole)."""
    st = side["state"]
    version = st.get("Version") if st.get("Version") != NO_VERSION else None  # none negotiated: nothing to say
    parts = [" ".join(p for p in (version, st.get("CipherSuite")) if p)]
    parts.append("complete" if st.get("HandshakeComplete") else "incomplete")
    if st.get("DidResume"):
        parts.append("resumed")
    if st.get("ECHAccepted") is True:
        parts.append("ech accepted")
    if side.get("ech_retry_configs") is not None:
        parts.append("ech retry configs [" + ", ".join(side["ech_retry_configs"]) + "]")
    if side.get("hrr"):
        parts.append("hrr")
    if side.get("tickets"):
        parts.append(f"{side['tickets']} ticket{'s' if side['tickets'] != 1 else ''}")
    if side.get("cache"):
        parts.append("cache [" + ", ".join(side["cache"]) + "]")
    parts += alert_words(side["alerts"])
    for name in ("error", "io_error"):
        if side.get(name) is not None:
            parts.append(f"{name} {json.dumps(side[name])}")
    return ", ".join(p for p in parts if p)


def render(result: CaseResult) -> str:
    """Per release key the steps, then the agreement classes, then the verdicts."""
    case = result.case
    lines = [f"{case.file or case.id}: {case.description}"]
    width = max((len(key_text(k)) for k in result.docs), default=0)
    for key, doc in result.docs.items():
        head = f"{key_text(key):<{width}}  {result.classes.get(key, '?'):<2}"
        if doc.get("unsupported"):
            lines.append(f"{head} unsupported: {doc['unsupported']}")
            continue
        if doc.get("failure"):
            lines.append(f"{head} failure: {doc['failure']}")
        for step in doc["steps"]:
            what = [f"{side}: {side_line(step[side])}" for side in ("client", "server") if step.get(side)]
            if step.get("session"):
                what.append(f"session: error {json.dumps(step['session'].get('error'))}")
            if step.get("failure"):
                what.append(f"failure: {step['failure']}")
            lines.append(f"{head} step {step['step']}  " + " | ".join(what or ["(nothing observed)"]))
    lines.append("agreement classes (same letter, same outcome):")
    by_class: dict[str, list[str]] = {}
    for key, letter in result.classes.items():
        by_class.setdefault(letter, []).append(key_text(key))
    for letter in sorted(by_class, key=lambda x: (x == "-", x)):
        label = "-" if letter == "-" else letter
        lines.append(f"  {label:<2} {', '.join(by_class[letter])}" + ("  (unsupported)" if letter == "-" else ""))
    if not case.expectations:
        lines.append("expectations: none in the file")
        return "\n".join(lines) + "\n"
    lines.append("expectations:")
    for verdict in (Verdict.PASS, Verdict.UNSUPPORTED, Verdict.FAIL, Verdict.ERROR):
        keys = [k for k, v in result.verdicts.items() if v.verdict == verdict]
        if keys:
            lines.append(f"  {verdict:<11} {', '.join(key_text(k) for k in keys)}")
    for key, v in result.verdicts.items():
        if v.verdict in (Verdict.FAIL, Verdict.ERROR):
            lines += [f"  {key_text(key)}: {m}" for m in v.failures()]
    return "\n".join(lines) + "\n"
