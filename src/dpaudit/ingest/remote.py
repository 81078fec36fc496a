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
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable

URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
MANIFEST = ".dpaudit-mirror.json"  # what each mirrored file was fetched from (size and version tag)
STAGED_TOP = ("reference", "profiles")  # folders every run reads; plus policy.toml and inbox/<month>
CHUNK_BYTES = 1 << 20
POLICY_MAX_BYTES = 1 << 20  # a policy file is a page of settings: larger is refused, never cut
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
    skipped: list[str] = field(default_factory=list)  # object names no mirror path can stand for (not read)


def _listing(fs, root: str, parts: Iterable[str], skipped: list[str]) -> dict[str, dict]:
    """``relative posix path -> info`` of every object under the parts asked for (missing parts: none);
    object names no local path can stand for go to ``skipped``."""
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
            prefix = root.rstrip("/") + "/"
            raw = name[len(prefix):] if name.startswith(prefix) else None
            if raw is None or PurePosixPath(raw).as_posix() != raw or any(p in ("", ".", "..") for p in raw.split("/")):
                # a key such as "R1//a.csv", "R1/./a.csv" or "../x": no file of the mirror can stand for it
                # (and nothing may be written outside it): reported, never read
                skipped.append(name)
                continue
            out[raw] = dict(inf, name=name)
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
          max_file_bytes: int | None = None, policy_path: str | os.PathLike | None = None) -> StageReport:
    """Bring the local mirror of ``url`` up to date for a run of ``periods``; return where it is.

    Only what changed is fetched; files gone from the URL are removed from the mirror (within the
    parts staged), so the mirror is what the URL holds now.  Files are capped at the
    ``max_file_bytes`` of the policy the run uses (``policy_path``, else the folder's own)."""
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
    report = StageReport(local)
    listing = _listing(fs, root, parts, report.skipped)
    manifest_path = local / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    if max_file_bytes is None:
        max_file_bytes = _file_limit(fs, listing, local, policy_path)
    for rel, info in sorted(listing.items()):
        target = local / rel
        version = _version(info)
        _clear_way(local, target)
        if info.get("islink"):
            if not target.is_symlink():
                if target.is_dir():
                    shutil.rmtree(target)
                target.symlink_to(local / ".not-followed")  # reported by the inbox scan, never read
            manifest[rel] = "link"
            continue
        if manifest.get(rel) == version and target.is_file() and not target.is_symlink():
            report.unchanged += 1
            continue
        n = _fetch(fs, info["name"], target, max_file_bytes + 1)
        report.fetched += 1
        report.bytes_fetched += n
        report.truncated += int(n > max_file_bytes)
        manifest[rel] = version
    # what the mirror holds under the staged parts and the URL no longer does goes (also a file fetched
    # by a run that was interrupted before it wrote the manifest)
    for part in parts:
        here = local / part
        present = [here] if here.is_symlink() or here.is_file() else \
            [p for p in here.rglob("*") if p.is_symlink() or p.is_file()] if here.is_dir() else []
        for p in present:
            rel = p.relative_to(local).as_posix()
            if rel not in listing and not p.name.startswith(".fetch-"):
                p.unlink()
                report.removed += 1
                manifest.pop(rel, None)
    for rel in [r for r in manifest if r not in listing and (r == "policy.toml" or r.startswith(tuple(
            p + "/" for p in parts)))]:
        manifest.pop(rel)
    (local / SOURCE_MARKER).write_text(url, encoding="utf-8")  # workers elsewhere fetch from here
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, sort_keys=True, indent=0), encoding="utf-8")
    tmp.replace(manifest_path)
    return report


def _file_limit(fs, listing: dict[str, dict], local: Path, policy_path: str | os.PathLike | None) -> int:
    """``max_file_bytes`` of the policy the run will use: ``--policy`` when given, else the data
    folder's own ``policy.toml`` (a link is never followed; one over the limit is refused, not cut)."""
    from dpaudit.core.policy import load_policy

    if policy_path is not None:
        return int(load_policy(policy_path).threshold("max_file_bytes"))
    policy_file = local / "policy.toml"
    info = listing.get("policy.toml")
    if info is None or info.get("islink"):
        if policy_file.is_symlink() or policy_file.is_file():
            policy_file.unlink()
        return int(load_policy(None).threshold("max_file_bytes"))
    if int(info.get("size") or 0) > POLICY_MAX_BYTES:
        raise RemoteDataError(f"policy.toml at the data folder is {int(info['size']):,} bytes, over the "
                              f"{POLICY_MAX_BYTES:,}-byte limit for a policy file. Check it is the council's policy.")
    _clear_way(local, policy_file)
    _fetch(fs, info["name"], policy_file, POLICY_MAX_BYTES)
    return int(load_policy(policy_file).threshold("max_file_bytes"))


def _clear_way(local: Path, target: Path) -> None:
    """Make room for ``target`` in the mirror: a link or file where a folder of its path must be (the
    URL changed a link or file into a folder) is removed, as is a folder where the file must be."""
    here = local
    for part in target.relative_to(local).parts[:-1]:
        here = here / part
        if here.is_symlink() or here.is_file():
            here.unlink()
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)


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


def local_data(data: str | os.PathLike, periods: Iterable[str] = (), *, cache_root: Path | None = None,
               policy_path: str | os.PathLike | None = None) -> Path:
    """The folder a command reads: ``data`` itself, or the brought-up-to-date mirror of a URL."""
    if is_url(data):
        return stage(str(data), periods, cache_root=cache_root, policy_path=policy_path).local
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
    """On a worker: ``planned path -> path to read``.  A path this process sees with the planned
    content is read where it is; any other (another machine, or an old mirror there) is fetched from
    ``source`` into this worker's own mirror and must have the SHA-256 the writer planned."""
    out: dict[Path, Path] = {Path(p): Path(p) for p in paths}
    if source is None:
        return out
    # a path this process sees is read where it is only with the planned content: another machine may
    # hold an old mirror of the same URL at the same path
    missing = [(p, s) for p, s in zip(paths, shas) if not (Path(p).is_file() and _sha256(Path(p)) == s)]
    if not missing:
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
