"""A data folder at an fsspec URL (``s3://bucket/council``, ``gs://…``, ``abfs://…``, ``file://…``).

A council whose inbox lives on object storage runs ``dpaudit run --data s3://bucket/council``.
The parts of the folder a run reads (``reference/``, ``profiles/``, ``policy.toml`` and the inbox
of each month asked for) are copied through fsspec into a local mirror, and the run reads the
mirror exactly as it reads a local folder: the same inbox rules, limits, quarantine reasons and
data-folder-relative paths, so the findings and exception ids of a remote folder are those of the
same folder on disk.  The mirror is brought up to date on every run (a changed object is fetched
again, a deleted one is deleted), so re-running reads nothing twice and the store, kept beside the
mirror by default, counts nothing twice.

Untrusted input stays bounded: an object larger than ``max_file_bytes`` is fetched only up to one
byte over the limit, so the reader rejects it as too large (by name, with the limit) without the
whole object ever being downloaded.  A symbolic link (``file://`` folders) is mirrored as a link to
nothing, so the inbox scan reports it as it reports a local link, and it is never followed.

Dask workers on other machines do not see this machine's mirror: :func:`fetch_missing` lets a
worker fetch the files of its chunk from the URL itself (into its own mirror), and checks that
each one still has the content the writer planned (SHA-256), so a file changed during the run
stops the read instead of mixing two versions.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable

URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
MANIFEST = ".dpaudit-mirror.json"  # what each mirrored file was fetched from (size and version tag)
STAGED_TOP = ("reference", "profiles")  # folders every run reads; plus policy.toml and inbox/<month>
CHUNK_BYTES = 1 << 20
SOURCE_MARKER = ".dpaudit-source"  # in a mirror: the URL it mirrors


class RemoteDataError(RuntimeError):
    """A data folder URL that cannot be read (a plain sentence the user can act on)."""


def is_url(data: str | os.PathLike) -> bool:
    """True for ``scheme://…`` (an fsspec URL); a plain path is a local folder."""
    return isinstance(data, str) and bool(URL_RE.match(data))


def default_cache_root() -> Path:
    """``$DPAUDIT_CACHE``, else ``$XDG_CACHE_HOME/dpaudit`` (``~/.cache/dpaudit``)."""
    if os.environ.get("DPAUDIT_CACHE"):
        return Path(os.environ["DPAUDIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dpaudit"


def mirror_dir(url: str, cache_root: Path | None = None) -> Path:
    """The local mirror of ``url``: one folder per URL, so the default store beside it is the same
    for every command run on that URL (``run``, then ``report``, ``year-end``)."""
    key = hashlib.sha256(url.rstrip("/").encode("utf-8")).hexdigest()[:16]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", url.split("://", 1)[1].strip("/"))[-40:] or "root"
    return Path(cache_root or default_cache_root()) / "remote" / f"{name}-{key}"


def _filesystem(url: str):
    from fsspec.core import url_to_fs

    try:
        return url_to_fs(url)
    except ImportError as exc:  # fsspec names the package: "Install s3fs to access S3"
        raise RemoteDataError(f"The data folder {url} needs a filesystem package that is not installed: {exc}. "
                              f"Install it into dpaudit's environment (e.g. pip install s3fs) and run again.") from exc
    except ValueError as exc:
        raise RemoteDataError(f"The data folder {url} is not a URL dpaudit can read ({exc}). Use a local folder or "
                              f"an fsspec URL such as s3://bucket/council.") from exc


def _version(info: dict) -> str:
    """What identifies an object's content without reading it: size plus ETag/md5/generation/mtime."""
    for k in ("ETag", "etag", "md5Hash", "md5", "generation", "version_id", "mtime", "LastModified", "last_modified",
              "created"):
        if info.get(k) is not None:
            return f"{info.get('size')}|{k}={info[k]}"
    return f"{info.get('size')}|"


@dataclass
class StageReport:
    local: Path
    fetched: int = 0
    unchanged: int = 0
    removed: int = 0
    bytes_fetched: int = 0
    truncated: int = 0


def _listing(fs, root: str, parts: Iterable[str]) -> dict[str, dict]:
    """``relative posix path -> info`` of every object under the parts asked for (missing parts: none)."""
    out: dict[str, dict] = {}
    for part in parts:
        base = f"{root.rstrip('/')}/{part}"
        try:
            if not fs.exists(base):
                continue
            info = fs.info(base)
        except (FileNotFoundError, PermissionError):
            continue
        if info.get("type") != "directory":
            out[part] = info
            continue
        for name, inf in fs.find(base, detail=True, withdirs=False).items():
            link = _linked_ancestor(fs, root, name)
            if link is not None:  # a file reached through a linked folder: the link itself is reported
                out[link] = {"name": link, "type": "file", "islink": True}
                continue
            rel = PurePosixPath(name).relative_to(PurePosixPath(root.rstrip("/") or "/")).as_posix() \
                if name.startswith(root.rstrip("/")) else None
            if rel is None or rel.startswith("..") or "/../" in f"/{rel}/":
                continue  # never write outside the mirror
            out[rel] = inf
    return out


def _linked_ancestor(fs, root: str, name: str) -> str | None:
    """On a local filesystem, the relative path of the first symbolic link between ``root`` and
    ``name`` (exclusive), or None; object stores have no links."""
    if "file" not in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
        return None
    rel = PurePosixPath(name).relative_to(PurePosixPath(root.rstrip("/") or "/"))
    here = Path(root)
    for part in rel.parts[:-1]:
        here = here / part
        if here.is_symlink():
            return PurePosixPath(here).relative_to(PurePosixPath(root)).as_posix()
    return None


def stage(url: str, periods: Iterable[str] = (), *, cache_root: Path | None = None,
          max_file_bytes: int | None = None) -> StageReport:
    """Bring the local mirror of ``url`` up to date for a run of ``periods``; return where it is.

    Only what changed is fetched; files gone from the URL are removed from the mirror (within the
    parts staged), so the mirror is what the URL holds now."""
    from dpaudit.core.policy import load_policy

    fs, root = _filesystem(url)
    local = mirror_dir(url, cache_root)
    local.mkdir(parents=True, exist_ok=True)
    try:
        if not fs.isdir(root):
            raise RemoteDataError(f"The data folder {url} does not exist or is not a folder. Check the URL and the "
                                  f"credentials of this machine, and run again.")
    except (PermissionError, OSError) as exc:
        raise RemoteDataError(f"The data folder {url} could not be listed ({exc}). Check the credentials of this "
                              f"machine and run again.") from exc
    parts = [*STAGED_TOP, "policy.toml", *(f"inbox/{p}" for p in sorted(set(periods)))]
    listing = _listing(fs, root, parts)
    manifest_path = local / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    if max_file_bytes is None:  # the data folder's own policy decides the limit, as it does for a local run
        policy_file = local / "policy.toml"
        if "policy.toml" in listing:
            _fetch(fs, f"{root.rstrip('/')}/policy.toml", policy_file, 1 << 20)
        max_file_bytes = int(load_policy(policy_file if policy_file.exists() else None).threshold("max_file_bytes"))
    report = StageReport(local)
    for rel, info in sorted(listing.items()):
        target = local / rel
        version = _version(info)
        if info.get("islink"):
            if not target.is_symlink():
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():
                    target.unlink()
                target.symlink_to(local / ".not-followed")  # reported by the inbox scan, never read
            manifest[rel] = "link"
            continue
        if manifest.get(rel) == version and target.is_file() and not target.is_symlink():
            report.unchanged += 1
            continue
        n = _fetch(fs, f"{root.rstrip('/')}/{rel}", target, max_file_bytes + 1)
        report.fetched += 1
        report.bytes_fetched += n
        report.truncated += int(n > max_file_bytes)
        manifest[rel] = version
    staged_prefixes = tuple(p if p == "policy.toml" else p + "/" for p in parts)
    for rel in sorted(set(manifest) - set(listing)):
        if rel == "policy.toml" or rel.startswith(staged_prefixes):
            target = local / rel
            if target.is_symlink() or target.is_file():
                target.unlink()
                report.removed += 1
            manifest.pop(rel)
    (local / SOURCE_MARKER).write_text(url, encoding="utf-8")  # workers elsewhere fetch from here
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, sort_keys=True, indent=0), encoding="utf-8")
    tmp.replace(manifest_path)
    return report


def _fetch(fs, remote: str, target: Path, limit: int) -> int:
    """Copy at most ``limit`` bytes of ``remote`` to ``target`` (atomically); return the bytes written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    n = 0
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
    try:
        with os.fdopen(fd, "wb") as out, fs.open(remote, "rb") as src:
            while n < limit:
                block = src.read(min(CHUNK_BYTES, limit - n))
                if not block:
                    break
                out.write(block)
                n += len(block)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def local_data(data: str | os.PathLike, periods: Iterable[str] = (), *, cache_root: Path | None = None) -> Path:
    """The folder a command reads: ``data`` itself, or the brought-up-to-date mirror of a URL."""
    if is_url(data):
        return stage(str(data), periods, cache_root=cache_root).local
    return Path(data)


@dataclass(frozen=True)
class RemoteSource:
    """Where a worker that cannot see the writer's mirror fetches a planned file from."""
    url: str
    mirror: str  # the writer's mirror folder (the planned paths are under it)
    max_file_bytes: int


def source_for(data_dir: Path, max_file_bytes: int) -> RemoteSource | None:
    """The :class:`RemoteSource` of a mirror folder (None for a local data folder)."""
    marker = Path(data_dir) / SOURCE_MARKER
    if not marker.is_file():
        return None
    return RemoteSource(marker.read_text(encoding="utf-8").strip(), str(Path(data_dir)), max_file_bytes)


def fetch_missing(paths: list[Path], shas: list[str], source: RemoteSource | None) -> dict[Path, Path]:
    """On a worker: ``planned path -> path to read``.  A path this process sees is read where it is;
    one it cannot see (another machine) is fetched from ``source`` into this worker's own mirror and
    must have the SHA-256 the writer planned."""
    out: dict[Path, Path] = {}
    missing = [(p, s) for p, s in zip(paths, shas) if not Path(p).exists()]
    for p in paths:
        out[Path(p)] = Path(p)
    if not missing or source is None:
        return out
    fs, root = _filesystem(source.url)
    here = mirror_dir(source.url) / "worker"
    for p, sha in missing:
        rel = Path(p).relative_to(source.mirror).as_posix()
        target = here / rel
        if not (target.is_file() and _sha256(target) == sha):
            _fetch(fs, f"{root.rstrip('/')}/{rel}", target, source.max_file_bytes + 1)
            got = _sha256(target)
            if got != sha:
                raise RemoteDataError(f"{rel} changed at {source.url} while it was being read (planned SHA-256 "
                                      f"{sha[:12]}…, fetched {got[:12]}…). Nothing of this batch was loaded; run "
                                      f"again when the folder is no longer being written to.")
        out[Path(p)] = target
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
            h.update(block)
    return h.hexdigest()
