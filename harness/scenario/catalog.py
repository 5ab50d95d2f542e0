"""Which case files a run takes: case folders, selectors, ids.

A case's id is its path without `.yaml`, relative to the case folder that holds it:
tlsdiff's own cases (`resumption/tls13-same-server`), each `--cases DIR` a user adds,
and any folder or file named as a selector from outside them (ids then start with
that folder's name: `tlsdiff run ./mine` gives `mine/...`). Two files with one id
are refused, naming both, and so is an id the peers could not tell apart from
another (it may hold letters, digits, `.`, `_`, `-` and `/` only).
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import UserError
from .load import display, load_file
from .model import Case

SUFFIXES = (".yaml", ".yml")
_ID = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def case_folders(extra: Sequence[Path] = (), *, default: Path | None = None, source: str = "--cases") -> list[Path]:
    """The default case folder (unless None) and the user's, each checked to be a folder."""
    folders = [default] if default is not None else []
    for folder in extra:
        if not folder.exists():
            raise UserError(f"{source}: {str(folder)!r} does not exist; expected a folder of case files")
        if not folder.is_dir():
            raise UserError(f"{source}: {str(folder)!r} is not a folder; expected a folder of case files "
                            "(name one case as a selector: tlsdiff run FILE)")
        folders.append(folder)
    return folders


def case_files(folder: Path) -> list[Path]:
    """Every case file below folder, sorted; symlinked folders are not followed (no loops)."""
    found = []
    for parent, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(parent) / n for n in names if n.endswith(SUFFIXES) and not n.startswith("."))
    return sorted(found)


def case_id(path: Path, folder: Path) -> str:
    """The id of the case file at path under folder (which holds it)."""
    rel = path.absolute().relative_to(folder.absolute())
    return rel.with_suffix("").as_posix()


def holder(path: Path, folders: Sequence[Path]) -> Path | None:
    """The first of the folders that holds path, or None."""
    for folder in folders:
        try:
            path.absolute().relative_to(folder.absolute())
            return folder
        except ValueError:
            continue
    return None


def _select(sel: str, folders: Sequence[Path]) -> list[tuple[Path, Path]]:
    """(file, the folder its id is relative to) for one selector."""
    p = Path(sel)
    if sel and (p.is_file() or p.is_symlink()) and p.suffix in SUFFIXES:
        return [(p, holder(p, folders) or p.absolute().parent.parent)]
    if sel and p.is_dir() and (p.is_absolute() or not any((f / sel).is_dir() for f in folders)):
        folder = holder(p, folders) or p.absolute().parent
        return [(f, folder) for f in case_files(p)]
    # An id names one case; a folder ('binder/') its cases; else an id prefix ('binder/tls13').
    prefix = sel.rstrip("/")
    every = [(f, folder, case_id(f, folder)) for folder in folders for f in case_files(folder)]
    exact = [(f, folder) for f, folder, cid in every if cid == prefix]
    if exact and not sel.endswith("/"):
        return exact
    return [(f, folder) for f, folder, cid in every
            if not sel or cid.startswith(prefix + "/") or (not sel.endswith("/") and cid.startswith(prefix))]


def report_name(path: Path, folder: Path, cid: str) -> str:
    """How reports name a case file: relative to the working directory when inside it (so
    GitHub can annotate it in the repository), else under its case folder's name."""
    try:
        return path.absolute().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return f"{folder.absolute().name}/{cid}{path.suffix}"


def select_files(selectors: Iterable[str], folders: Sequence[Path]) -> list[tuple[Path, str, str]]:
    """(file, id, how reports name the file) for the selectors (no selector: every case),
    sorted by id; UserError on a selector that matches nothing, a bad id, or two files
    with one id."""
    chosen: dict[str, tuple[Path, str]] = {}
    names = ", ".join(f"{f.name}/" for f in folders) or "no case folder"
    for sel in list(selectors) or [""]:
        found = _select(sel, folders)
        if not found:
            files = [sel + suffix for suffix in SUFFIXES if Path(sel + suffix).is_file()]
            hint = f"the file is {files[0]}" if files else "try 'tlsdiff run --list'"
            raise UserError(f"case selector {sel!r}: no case under {names} matches; {hint}")
        for path, folder in found:
            cid = case_id(path, folder)
            if not _ID.match(cid):
                raise UserError(f"{display(path)}: case id {cid!r} has characters other than letters, digits, "
                                "'.', '_', '-' and '/'; rename the file")
            other = chosen.get(cid)
            if other is not None and other[0].absolute() != path.absolute():
                raise UserError(f"case id {cid!r} is given by two files: {display(other[0])} and {display(path)}; "
                                "rename one")
            chosen[cid] = (path, report_name(path, folder, cid))
    return sorted(((p, cid, f) for cid, (p, f) in chosen.items()), key=lambda pcf: pcf[1])


def discover(selectors: Iterable[str], folders: Sequence[Path]) -> list[Case]:
    """The cases matching the selectors in the folders, loaded and validated, sorted by id."""
    return [load_file(path, cid, f) for path, cid, f in select_files(selectors, folders)]


def filter_cases(cases: Sequence[Case], keywords: Sequence[str] = (), tags: Sequence[str] = ()) -> list[Case]:
    """Cases whose id contains any keyword (-k) and that carry any of the tags (--tag)."""
    picked = [c for c in cases if (not keywords or any(k in c.id for k in keywords))
              and (not tags or any(t in c.tags for t in tags))]
    if cases and not picked:
        asked = " ".join([*(f"-k {k}" for k in keywords), *(f"--tag {t}" for t in tags)])
        known = sorted({t for c in cases for t in c.tags})
        raise UserError(f"{asked}: no case matches; tags in use: {', '.join(known) or 'none'}")
    return picked


def load_case(path: Path, root: Path | None = None) -> Case:
    """Load and validate one case file; its id is its path under root without the suffix
    (no root: its file name's stem), and reports name it as report_name does."""
    cid = case_id(path, root) if root is not None else path.stem
    return load_file(path, cid, report_name(path, root if root is not None else path.parent, cid))


def load_cases(selectors: Sequence[str] = (), folders: Sequence[Path] = ()) -> list[Case]:
    """The cases matching the selectors in tlsdiff's own cases and the given folders, validated."""
    from ..paths import CASES_DIR
    return discover(selectors, case_folders(folders, default=CASES_DIR))
