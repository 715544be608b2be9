"""Render the hardening templates (top-level ``hardening/``) into a root, or show the diff.

``hardening/etc/**`` is an overlay: each file is rendered (``${home}``, ``${prefix}``, ``${user}``) to the
same path under the root.  ``fstab.options`` adds mount options to ``etc/fstab`` and comments out swap;
``masks.txt`` lists systemd units to mask (a link to /dev/null) and to drop from every ``*.wants/``.
With ``dry_run`` nothing is written and the result carries a unified diff of what would change.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

from appliance._internal.atomic import atomic_write
from appliance.errors import UsageError
from appliance.harden.checks import wanted_links


@dataclass
class Change:
    path: str  # as on the host
    kind: str  # write | mask | unlink
    old: str | None
    new: str | None
    mode: int = 0o644

    def to_dict(self) -> dict:
        return {"path": self.path, "kind": self.kind}


def templates_dir(explicit: Path | None = None) -> Path:
    """The templates: ``explicit``, else the installed copy, else the source checkout's ``hardening/``."""
    candidates = (
        [Path(explicit)]
        if explicit
        else [
            Path(sys.prefix) / "share" / "appliance" / "hardening",
            Path(__file__).resolve().parents[2] / "hardening",
        ]
    )
    for c in candidates:
        if (c / "etc").is_dir():
            return c
    raise UsageError("no hardening templates found", hint="pass --templates DIR (the bundle's hardening/)")


def _read(p: Path) -> str | None:
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _fstab(old: str, table: list[tuple[str, list[str], str]]) -> str:
    lines, seen = [], set()
    for ln in old.splitlines():
        f = ln.split()
        if ln.strip().startswith("#") or len(f) < 4:
            lines.append(ln)
            continue
        if f[2] == "swap":
            lines.append("# swap disabled by appliance harden (key material must not be paged): " + ln)
            continue
        for mnt, opts, _add in table:
            if f[1] == mnt:
                seen.add(mnt)
                have = f[3].split(",")
                missing = [o for o in opts if o not in have]
                if missing:  # rewrite only lines that change, so a second apply is a no-op
                    f[3] = ",".join(have + missing)
                    ln = "\t".join(f)
        lines.append(ln)
    for mnt, _opts, add in table:
        if mnt not in seen and add != "-":
            lines.append(add)
    return "\n".join(lines) + "\n"


def plan(root: Path, templates: Path, values: dict[str, str]) -> list[Change]:
    """Every change ``apply`` would make under ``root`` (unchanged files are left out)."""
    root = Path(root)
    changes: list[Change] = []
    etc = templates / "etc"
    for src in sorted(p for p in etc.rglob("*") if p.is_file()):
        rel = src.relative_to(templates).as_posix()
        new = Template(src.read_text(encoding="utf-8")).safe_substitute(values)
        old = _read(root / rel)
        if old != new:
            changes.append(Change("/" + rel, "write", old, new, 0o640 if "audit" in rel else 0o644))
    opts = templates / "fstab.options"
    if opts.is_file():
        table = []
        for ln in Template(opts.read_text()).safe_substitute(values).splitlines():
            if ln.strip() and not ln.startswith("#"):
                mnt, o, add = ln.split(None, 2)
                table.append((mnt, o.split(","), add.strip()))
        old = _read(root / "etc/fstab") or ""
        new = _fstab(old, table)
        if new != old:
            changes.append(Change("/etc/fstab", "write", old or None, new))
    masks = templates / "masks.txt"
    units = (
        [u.strip() for u in masks.read_text().splitlines() if u.strip() and not u.startswith("#")]
        if masks.is_file()
        else []
    )
    sysd = root / "etc/systemd/system"
    for unit in units:
        link = sysd / unit
        if not (link.is_symlink() and os.readlink(link) == "/dev/null"):
            changes.append(Change(f"/etc/systemd/system/{unit}", "mask", None, "/dev/null"))
        for wanted in wanted_links(sysd, (unit,)):
            changes.append(Change("/" + wanted.relative_to(root).as_posix(), "unlink", "enabled", None))
    return changes


def diff(changes: list[Change]) -> str:
    """A unified diff of ``changes`` (masks and unlinks as one-line notes)."""
    out = []
    for c in changes:
        if c.kind == "write":
            out += difflib.unified_diff(
                (c.old or "").splitlines(keepends=True),
                c.new.splitlines(keepends=True),
                fromfile=("a" + c.path) if c.old is not None else "/dev/null",
                tofile="b" + c.path,
            )
        elif c.kind == "mask":
            out.append(f"mask {c.path} -> /dev/null\n")
        else:
            out.append(f"remove {c.path} (disable)\n")
    return "".join(ln if ln.endswith("\n") else ln + "\n" for ln in out)


def write(root: Path, changes: list[Change]) -> None:
    """Apply ``changes`` under ``root`` (atomic file replacement)."""
    root = Path(root)
    for c in changes:
        target = root / c.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if c.kind == "write":
            atomic_write(target, c.new, mode=c.mode)
        elif c.kind == "mask":
            if target.exists() or target.is_symlink():
                target.unlink()
            os.symlink("/dev/null", target)
        else:
            target.unlink(missing_ok=True)
