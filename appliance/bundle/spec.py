"""Bundle specs (``bundles/*.toml``): what goes on the USB stick, for which target.

A spec names the bundle and its version, the target interpreter and platform tags, where wheels come from
on the staging host (or leaves the package indexes to the staging host's pip configuration: no index address
is built in, see ``sources.py``), the hash-pinned lock of third-party wheels, the packages that exist only as sdists
(built here into wheels), the base models (local HF snapshot directories) and the spaCy model package.
Relative paths in a spec are relative to the spec file.  Every problem is reported at once (ConfigError).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import ConfigError, InputError

_VERSION_RE = re.compile(r"^\d+(\.\d+){0,3}$")
_PIN_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!_-]+)$")


def normalize_name(name: str) -> str:
    """PEP 503 normalisation (``Typing_Extensions`` → ``typing-extensions``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Target:
    python_version: str  # "3.11"
    platforms: tuple[str, ...]  # pip --platform values, most specific first
    implementation: str = "cp"
    abi: str = "cp311"
    machine: str = "x86_64"

    @property
    def python_tag(self) -> str:
        return self.implementation + self.python_version.replace(".", "")

    def to_dict(self) -> dict:
        return {
            "python_version": self.python_version,
            "platforms": list(self.platforms),
            "implementation": self.implementation,
            "abi": self.abi,
            "machine": self.machine,
        }


@dataclass(frozen=True)
class SdistBuild:
    """A package that ships only as an sdist (or a local source tree): built into a wheel at bundle time."""

    requirement: str | None = None  # "llama-cpp-python==0.3.36"
    path: Path | None = None  # a local source tree (test packages)
    env: dict[str, str] = field(default_factory=dict)
    no_build_isolation: bool = False

    @property
    def label(self) -> str:
        return self.requirement or str(self.path)

    @property
    def pinned(self) -> tuple[str, str] | None:
        m = _PIN_RE.match(self.requirement or "")
        return (normalize_name(m.group(1)), m.group(2)) if m else None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    path: Path


@dataclass(frozen=True)
class BundleSpec:
    path: Path
    name: str
    version: str
    target: Target
    requirements: tuple[str, ...]
    lock: Path | None
    index_url: str | None  # None: not named by the spec (from pip config); "": no index, local wheels only
    extra_index_urls: tuple[str, ...]
    find_links: tuple[Path, ...]
    sdists: tuple[SdistBuild, ...]
    wheel_cache: Path | None
    models: tuple[ModelSpec, ...]
    spacy_model: str | None
    appliance_no_deps: bool  # test bundles: the appliance wheel is installed without its dependencies
    min_free_mb: int

    @property
    def complete(self) -> bool:
        """True when the bundle carries every dependency of the appliance (``pip check`` must pass)."""
        return not self.appliance_no_deps

    def source_args(self) -> list[str]:
        """pip options selecting where wheels come from; ``--isolated`` ignores the host's pip config."""
        args = ["--isolated"]
        if self.index_url:
            args += ["--index-url", self.index_url]
        else:
            args += ["--no-index"]
        for url in self.extra_index_urls:
            args += ["--extra-index-url", url]
        for p in self.find_links:
            if p.is_dir():  # a site-local wheel directory that this staging host may not have
                args += ["--find-links", str(p)]
        if self.wheel_cache is not None and self.wheel_cache.is_dir():
            args += ["--find-links", str(self.wheel_cache)]
        return args

    def target_args(self) -> list[str]:
        args = ["--only-binary=:all:", "--python-version", self.target.python_version]
        for plat in expand_platforms(self.target.platforms):
            args += ["--platform", plat]
        args += [
            "--implementation",
            self.target.implementation,
            "--abi",
            self.target.abi,
            "--abi",
            "abi3",
            "--abi",
            "none",
        ]
        return args


def expand_platforms(platforms: tuple[str, ...]) -> list[str]:
    """pip takes ``--platform`` literally: spell out every older manylinux a glibc-2.N target also runs."""
    out: list[str] = []
    for plat in platforms:
        m = re.fullmatch(r"manylinux_2_(\d+)_(\w+)", plat)
        if not m:
            out.append(plat)
            continue
        glibc, arch = int(m.group(1)), m.group(2)
        out += [f"manylinux_2_{n}_{arch}" for n in range(glibc, 4, -1)]
        out += [
            f"{alias}_{arch}"
            for alias, n in (("manylinux2014", 17), ("manylinux2010", 12), ("manylinux1", 5))
            if n <= glibc
        ]
    return list(dict.fromkeys(out))


def _resolve(base: Path, raw: str) -> Path:
    p = Path(os.path.expanduser(os.path.expandvars(raw)))
    return p if p.is_absolute() else (base / p).resolve()


def load_spec(path: str | os.PathLike, version: str | None = None) -> BundleSpec:
    """Parse and validate a bundle spec; ``version`` overrides the spec's version (release builds, tests)."""
    path = Path(path).absolute()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"bundle spec {path} not found", hint="appliance bundle build --spec bundles/cpu.toml -o DIR"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(str(path), [f"not valid TOML: {e}"]) from None
    base = path.parent
    problems: list[str] = []

    b = data.get("bundle", {})
    name = b.get("name") or ""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        problems.append("bundle.name: required, lower-case letters, digits and '-'")
    ver = version or str(b.get("version", ""))
    if not _VERSION_RE.match(ver):
        problems.append(f"bundle.version: {ver!r} is not a dotted numeric version (e.g. 1.2.0)")

    t = data.get("target", {})
    pyver = str(t.get("python_version", ""))
    if not re.fullmatch(r"3\.\d+", pyver):
        problems.append('target.python_version: required, e.g. "3.11"')
    platforms = t.get("platforms") or []
    if not platforms or not all(isinstance(p, str) for p in platforms):
        problems.append("target.platforms: a non-empty list of wheel platform tags")
    impl = t.get("implementation", "cp")
    abi = t.get("abi") or (impl + pyver.replace(".", ""))
    target = Target(pyver, tuple(platforms), impl, abi, t.get("machine", "x86_64"))

    py = data.get("python", {})
    reqs = []
    if py.get("from_pyproject"):
        # One source of truth for the appliance's dependencies: the project's own pyproject.toml.
        pp = _resolve(base, py["from_pyproject"])
        try:
            reqs += list(tomllib.loads(pp.read_text(encoding="utf-8"))["project"]["dependencies"])
        except (OSError, KeyError, tomllib.TOMLDecodeError) as e:
            problems.append(f"python.from_pyproject: cannot read dependencies from {pp}: {e}")
    reqs += list(py.get("requirements", []))
    spacy_model = data.get("spacy", {}).get("package")
    if spacy_model and spacy_model not in reqs:
        reqs.append(spacy_model)
    lock = _resolve(base, py["lock"]) if py.get("lock") else None
    if reqs and lock is None:
        problems.append("python.lock: required when python.requirements is set")
    find_links = tuple(_resolve(base, p) for p in py.get("find_links", []))
    wheel_cache = _resolve(base, py["wheel_cache"]) if py.get("wheel_cache") else None

    sdists = []
    for i, s in enumerate(data.get("build", {}).get("sdist", [])):
        req, spath = s.get("requirement"), s.get("path")
        if bool(req) == bool(spath):
            problems.append(f"build.sdist[{i}]: give exactly one of requirement or path")
            continue
        if req and not _PIN_RE.match(req):
            problems.append(f"build.sdist[{i}].requirement: {req!r} must be pinned as name==version")
        sp = _resolve(base, spath) if spath else None
        if sp is not None and not (sp / "pyproject.toml").is_file() and not (sp / "setup.py").is_file():
            problems.append(f"build.sdist[{i}].path: {sp} is not a Python source tree")
        sdists.append(
            SdistBuild(
                req,
                sp,
                {k: str(v) for k, v in s.get("env", {}).items()},
                bool(s.get("no_build_isolation", False)),
            )
        )

    models = []
    for i, m in enumerate(data.get("models", [])):
        mname, mpath = m.get("name"), m.get("path")
        if not mname or not mpath:
            problems.append(f"models[{i}]: name and path are required")
            continue
        mp = _resolve(base, mpath)
        if not (mp / "config.json").is_file():
            problems.append(f"models[{i}] ({mname}): {mp} is not a local HF snapshot (no config.json)")
        models.append(ModelSpec(mname, mp))

    if problems:
        raise ConfigError(str(path), problems)
    return BundleSpec(
        path=path,
        name=name,
        version=ver,
        target=target,
        requirements=tuple(reqs),
        lock=lock,
        index_url=py.get("index_url"),  # None: the staging host's pip configuration (bundle/sources.py)
        extra_index_urls=tuple(py.get("extra_index_urls", [])),
        find_links=find_links,
        sdists=tuple(sdists),
        wheel_cache=wheel_cache,
        models=tuple(models),
        spacy_model=spacy_model,
        appliance_no_deps=bool(data.get("appliance", {}).get("no_deps", False)),
        min_free_mb=int(data.get("install", {}).get("min_free_mb", 512)),
    )


def read_lock(path: Path) -> list[tuple[str, str, list[str]]]:
    """``[(name, version, [sha256, ...])]`` from a hash-pinned requirements lock (pip's format)."""
    entries = []
    text = Path(path).read_text(encoding="utf-8").replace("\\\n", " ")
    for lineno, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        parts = line.split()
        m = _PIN_RE.match(parts[0])
        if not m:
            raise ConfigError(str(path), [f"line {lineno}: {parts[0]!r} is not pinned as name==version"])
        hashes = [p.split(":", 1)[1] for p in parts[1:] if p.startswith("--hash=sha256:")]
        if not hashes:
            raise ConfigError(str(path), [f"line {lineno}: {parts[0]} has no --hash=sha256:…"])
        entries.append((normalize_name(m.group(1)), m.group(2), hashes))
    return entries
