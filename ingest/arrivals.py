"""Which delivered files are new: the pure-Python core of a file sensor (case B23).

A wall-clock cursor ("files with mtime after the last tick") never sees a file uploaded with its original, older
timestamp, and a run key equal to the file name makes the orchestrator skip a corrected re-delivery under the same
name. :func:`scan_arrivals` instead remembers, per path, the content hash it last reported:

- a path never seen, or whose content hash changed, is an arrival — whatever its mtime;
- its run key is ``<file name>:<sha256 of the content>``, so a changed re-delivery gets a new key and an identical
  one the same key (and is not reported again here either);
- the cursor's ``newest`` is the largest ``(mtime, name)`` among files actually seen, never the tick time.

Files are hashed only when their stat signature (size, mtime, ctime) changed since the last scan: a rewrite always
changes ctime, which an uploader cannot preserve. The cursor is a JSON string (what a Dagster sensor stores).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Arrival:
    """A file to load: its path, modification time (UTC), content SHA-256 and run key (name + hash)."""

    path: Path
    mtime: dt.datetime
    sha256: str
    run_key: str


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


def scan_arrivals(paths: Iterable[Path | str], cursor: str | None) -> tuple[list[Arrival], str]:
    """New or changed files among ``paths`` since ``cursor``, and the cursor to store.

    Inputs: ``paths`` — the files currently delivered (e.g. a glob of the inbox); ``cursor`` — the JSON string
    returned by the previous scan, or None on the first one. Output: the arrivals sorted by (mtime, name), and the
    new cursor ``{"newest": [mtime ISO 8601 UTC, name], "seen": {path: [size, mtime_ns, ctime_ns, sha256]}}``.
    Paths that vanished keep their entry, so an identical re-delivery after a clean-up is still a no-op.
    Raises ``ValueError`` for a cursor that is not one of ours, ``OSError`` for an unreadable file.
    """
    state = json.loads(cursor) if cursor else {}
    if not isinstance(state, dict) or not isinstance(state.get("seen", {}), dict):
        raise ValueError(f"not a scan_arrivals cursor: {cursor[:80] if cursor else cursor!r}")
    seen: dict[str, list] = dict(state.get("seen", {}))
    newest: list | None = state.get("newest")
    arrivals: list[Arrival] = []
    for raw in paths:
        path = Path(raw)
        st = path.stat()
        key = str(path)
        signature = [st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        previous = seen.get(key)
        if previous is not None and previous[:3] == signature:
            digest = previous[3]  # untouched since the last scan
        else:
            digest = _sha256(path)
            if previous is None or previous[3] != digest:
                arrivals.append(Arrival(path, _utc(st.st_mtime_ns), digest, f"{path.name}:{digest}"))
        seen[key] = [*signature, digest]
        stamp = [_utc(st.st_mtime_ns).isoformat(timespec="microseconds"), path.name]
        if newest is None or stamp > newest:  # fixed-width ISO 8601 UTC strings sort like the instants
            newest = stamp
    arrivals.sort(key=lambda a: (a.mtime, a.path.name))
    return arrivals, json.dumps({"newest": newest, "seen": seen}, sort_keys=True)


def newest_seen(cursor: str | None) -> tuple[dt.datetime, str] | None:
    """The ``(mtime, name)`` of the newest file a cursor has seen, or None for an empty cursor."""
    if not cursor:
        return None
    newest = json.loads(cursor).get("newest")
    return (dt.datetime.fromisoformat(newest[0]), newest[1]) if newest else None


def list_files(directory: Path, pattern: str = "*") -> list[Path]:
    """Regular files in ``directory`` matching ``pattern`` (no hidden or partial ``.tmp`` uploads)."""
    return sorted(
        p
        for p in directory.glob(pattern)
        if p.is_file()
        and not p.name.startswith(".")
        and not p.name.endswith((".tmp", ".part", ".partial"))
        and os.access(p, os.R_OK)
    )
