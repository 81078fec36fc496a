"""A data folder at an fsspec URL (issue 17: "inputs are read through fsspec URLs so an inbox on
object storage works, not only a shared disk").

The in-memory filesystem stands in for object storage (no links, no local paths); ``file://``
checks that a mirrored folder keeps the local rules (links reported, never followed)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import fsspec
import pytest

from dpaudit.ingest import remote

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
PERIOD = "2026-02"


def _upload(fs, local: Path, root: str, periods=(PERIOD,)) -> None:
    for f in sorted(local.rglob("*")):
        rel = f.relative_to(local).as_posix()
        if not f.is_file() or f.suffix in (".duckdb", ".wal"):
            continue
        if rel.startswith("inbox/") and not any(rel.startswith(f"inbox/{p}/") for p in periods):
            continue
        fs.pipe(f"{root}/{rel}", f.read_bytes())


@pytest.fixture()
def memfs(tmp_path, monkeypatch):
    monkeypatch.setenv("DPAUDIT_CACHE", str(tmp_path / "cache"))
    fs = fsspec.filesystem("memory")
    root = f"/council-{tmp_path.name}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _run(data, tmp_path: Path, name: str):
    from dpaudit.pipeline import run_period

    return run_period(data, PERIOD, reports_dir=tmp_path / name, db_path=tmp_path / f"{name}.duckdb", officer="P")


def test_a_folder_on_object_storage_gives_the_findings_of_the_same_folder_on_disk(memfs, tmp_path):
    fs, root = memfs
    _upload(fs, SAMPLE, root)
    local = tmp_path / "local"
    shutil.copytree(SAMPLE, local, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    r_remote = _run(f"memory://{root}", tmp_path, "remote")
    r_local = _run(local, tmp_path, "local")
    for name in ("exceptions.csv", "recommendations.csv", "reconciliation.csv"):
        a = (tmp_path / "remote" / PERIOD / name).read_bytes()
        assert a == (tmp_path / "local" / PERIOD / name).read_bytes(), name
    assert r_remote.counts["findings"] == r_local.counts["findings"] > 0
    assert r_remote.counts["files_ingested"] == r_local.counts["files_ingested"] > 0
    # only what a run of the month reads was fetched: no other month's inbox
    mirror = remote.mirror_dir(f"memory://{root}")
    months = {p.name for p in (mirror / "inbox").iterdir()}
    assert months == {PERIOD}


def test_the_mirror_fetches_only_what_changed_and_forgets_what_was_deleted(memfs, tmp_path):
    fs, root = memfs
    _upload(fs, SAMPLE, root)
    url = f"memory://{root}"
    first = remote.stage(url, [PERIOD])
    n_files = sum(1 for f in SAMPLE.rglob("*") if f.is_file() and f.suffix not in (".duckdb", ".wal")
                  and (not f.relative_to(SAMPLE).as_posix().startswith("inbox/")
                       or f.relative_to(SAMPLE).as_posix().startswith(f"inbox/{PERIOD}/"))
                  and f.relative_to(SAMPLE).parts[0] in ("reference", "profiles", "inbox", "policy.toml"))
    assert first.fetched == n_files and first.unchanged == 0
    again = remote.stage(url, [PERIOD])
    assert (again.fetched, again.unchanged, again.removed) == (0, n_files, 0)
    receipts = sorted(fs.glob(f"{root}/inbox/{PERIOD}/*/receipts.csv"))[0]
    fs.pipe(receipts, fs.cat(receipts) + b"R-NEW,10/02/2026,Shop,1.00,x\n")
    gone = sorted(fs.glob(f"{root}/inbox/{PERIOD}/*/*.ofx") + fs.glob(f"{root}/inbox/{PERIOD}/*/*.csv"))[-1]
    fs.rm(gone)
    third = remote.stage(url, [PERIOD])
    assert (third.fetched, third.removed) == (1, 1)
    rel = Path(receipts).relative_to(root).as_posix()
    assert (third.local / rel).read_bytes() == fs.cat(receipts)
    assert not (third.local / Path(gone).relative_to(root).as_posix()).exists()


def test_re_running_a_remote_month_counts_nothing_twice(memfs, tmp_path):
    fs, root = memfs
    _upload(fs, SAMPLE, root)
    first = _run(f"memory://{root}", tmp_path, "a")
    second = _run(f"memory://{root}", tmp_path, "a")
    assert first.counts["txns_new"] > 0 and second.counts["txns_new"] == 0
    assert second.counts["findings"] == first.counts["findings"]


def test_an_oversized_object_is_fetched_only_to_the_limit_and_quarantined(memfs, tmp_path):
    fs, root = memfs
    _upload(fs, SAMPLE, root)
    rid = sorted(p.name for p in (SAMPLE / "inbox" / PERIOD).iterdir())[0]
    big = f"{root}/inbox/{PERIOD}/{rid}/huge.csv"
    limit = max(f.stat().st_size for f in SAMPLE.rglob("*") if f.is_file() and f.suffix not in (".duckdb", ".wal"))
    fs.pipe(big, b"date,description,amount\n" + b"2026-02-01,X,-1.00\n" * (2 * limit // 19))  # twice the limit
    rep = remote.stage(f"memory://{root}", [PERIOD], max_file_bytes=limit)
    local = rep.local / f"inbox/{PERIOD}/{rid}/huge.csv"
    assert local.stat().st_size == limit + 1 and rep.truncated == 1 and len(fs.cat(big)) > 2 * limit - 100
    from dpaudit.ingest.readers.tabular import UnreadableFile, check_size
    with pytest.raises(UnreadableFile, match=f"over the {limit:,}-byte limit"):
        check_size(local, limit)


def test_a_link_in_a_file_url_folder_is_reported_never_followed(tmp_path, monkeypatch):
    monkeypatch.setenv("DPAUDIT_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.duckdb", "*.wal"))
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "bank.csv").write_text("date,description,amount\n2026-02-02,SECRET PAYEE,-1.00\n")
    rid = sorted(p.name for p in (data / "inbox" / PERIOD).iterdir())[0]
    os.symlink(secret / "bank.csv", data / "inbox" / PERIOD / rid / "extra.csv")
    os.symlink(secret, data / "inbox" / PERIOD / rid / "more")
    r = _run(f"file://{data}", tmp_path, "r")
    text = (tmp_path / "r" / PERIOD / "exceptions.csv").read_text()
    assert "SECRET PAYEE" not in text
    assert "extra.csv was not read: it is a symbolic link" in text and "more was not read" in text
    assert r.counts["inbox_not_read"] == 2
    mirror = remote.mirror_dir(f"file://{data}")
    assert not (mirror / "inbox" / PERIOD / rid / "more").is_dir()  # the linked folder was never copied


def test_a_worker_that_cannot_see_the_mirror_fetches_its_files_and_checks_their_content(memfs, tmp_path):
    """A Dask worker on another machine: the planned paths are under the writer's mirror, which the
    worker does not have; it fetches each file from the URL and reads the same rows."""
    from dpaudit.core.policy import load_policy
    from dpaudit.ingest import statements as st
    from dpaudit.ingest.readers.bank_csv import load_profiles
    from dpaudit.store import now_utc

    fs, root = memfs
    _upload(fs, SAMPLE, root)
    url = f"memory://{root}"
    mirror = remote.stage(url, [PERIOD]).local
    policy = load_policy(None)
    files = []
    for rid_dir in sorted((mirror / "inbox" / PERIOD).iterdir()):
        for f in sorted(rid_dir.iterdir()):
            if f.suffix in (".ofx", ".csv") and f.stem not in ("receipts", "payslips", "hmrc", "invoices"):
                files.append(st.StatementFile(rid_dir.name, f, f.relative_to(mirror).as_posix(),
                                              remote._sha256(f), f.stat().st_size, "read"))
    assert files
    profiles, now = load_profiles(mirror), now_utc()
    here = st._prepare_chunk(files, mirror, PERIOD, policy, now, profiles)
    # the worker elsewhere: the same planned paths under a mirror folder that does not exist there
    elsewhere = tmp_path / "not-on-this-worker"
    moved = [st.StatementFile(f.recipient_id, elsewhere / f.rel, f.rel, f.sha256, f.size, f.action) for f in files]
    source = remote.RemoteSource(url, str(elsewhere), int(policy.threshold("max_file_bytes")))
    there = st._prepare_chunk(moved, mirror, PERIOD, policy, now, profiles, source)
    cols = ["txn_id", "recipient_id", "posted_date", "amount_pence", "description"]
    assert there.transactions[cols].equals(here.transactions[cols]) and len(here.transactions) > 0
    assert there.counts == here.counts
    # the object changed after it was planned: the worker stops rather than read another version
    fs.pipe(f"{root}/{files[0].rel}", fs.cat(f"{root}/{files[0].rel}") + b"\n")
    shutil.rmtree(remote.mirror_dir(url) / "worker")
    with pytest.raises(remote.RemoteDataError, match="changed at memory://"):
        st._prepare_chunk(moved, mirror, PERIOD, policy, now, profiles, source)


def test_a_url_dpaudit_cannot_read_is_a_plain_message(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from dpaudit.cli import app

    monkeypatch.setenv("DPAUDIT_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(app, ["run", "--data", "nosuchproto://bucket/council", "--period", PERIOD,
                                   "--db", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 1
    assert "is not a URL dpaudit can read" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["run", "--data", "memory://no/such/council", "--period", PERIOD,
                                   "--db", str(tmp_path / "x.duckdb")])
    assert res.exit_code == 1 and "does not exist or is not a folder" in res.output


def test_a_file_left_by_an_interrupted_run_goes_when_the_url_no_longer_has_it(memfs):
    """The mirror is what the URL holds now, also when a run stopped after fetching a file and before
    it wrote down what it had fetched."""
    fs, root = memfs
    _upload(fs, SAMPLE, root)
    url = f"memory://{root}"
    rep = remote.stage(url, [PERIOD])
    stray = rep.local / f"inbox/{PERIOD}/R00001/left-behind.csv"   # fetched, never written in the manifest
    stray.write_text("date,description,amount\n")
    again = remote.stage(url, [PERIOD])
    assert not stray.exists() and again.removed == 1


def test_an_object_name_no_file_can_have_is_reported_and_the_rest_is_read(memfs, tmp_path):
    fs, root = memfs
    _upload(fs, SAMPLE, root)
    fs.pipe(f"{root}/inbox/{PERIOD}/R00001//double.csv", b"date,description,amount\n")
    fs.pipe(f"{root}/inbox/{PERIOD}/R00001/./dot.csv", b"date,description,amount\n")
    rep = remote.stage(f"memory://{root}", [PERIOD])
    assert sorted(n.rsplit("/", 1)[-1] for n in rep.skipped) == ["dot.csv", "double.csv"]
    assert rep.fetched > 0 and not list(rep.local.rglob("double.csv"))


def test_a_link_that_becomes_a_folder_and_back_is_mirrored_each_time(tmp_path, monkeypatch):
    monkeypatch.setenv("DPAUDIT_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    box = data / "inbox" / PERIOD / "R1"
    box.mkdir(parents=True)
    (data / "reference").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", box / "more")
    url = f"file://{data}"
    mirror = remote.stage(url, [PERIOD]).local
    assert (mirror / f"inbox/{PERIOD}/R1/more").is_symlink()
    os.unlink(box / "more")
    (box / "more").mkdir()
    (box / "more" / "receipts.csv").write_text("receipt_id,date,supplier,amount,description\n")
    remote.stage(url, [PERIOD])
    assert (mirror / f"inbox/{PERIOD}/R1/more/receipts.csv").is_file()
    shutil.rmtree(box / "more")
    os.symlink(tmp_path / "elsewhere", box / "more")
    remote.stage(url, [PERIOD])
    assert (mirror / f"inbox/{PERIOD}/R1/more").is_symlink()


def test_the_policy_file_is_never_followed_through_a_link_nor_cut(tmp_path, monkeypatch):
    monkeypatch.setenv("DPAUDIT_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "data"
    (data / "reference").mkdir(parents=True)
    secret = tmp_path / "secret.toml"
    secret.write_text('[thresholds]\nmax_file_bytes = 7\n')
    os.symlink(secret, data / "policy.toml")
    rep = remote.stage(f"file://{data}")
    assert not (rep.local / "policy.toml").exists()  # a link to nothing: the default policy applies
    os.unlink(data / "policy.toml")
    (data / "policy.toml").write_text("# " + "x" * (remote.POLICY_MAX_BYTES + 10) + "\n")
    with pytest.raises(remote.RemoteDataError, match="over the 1,048,576-byte limit for a policy file"):
        remote.stage(f"file://{data}")


def test_files_are_capped_at_the_limit_of_the_policy_the_run_uses(memfs, tmp_path):
    fs, root = memfs
    _upload(fs, SAMPLE, root)
    rid = sorted(p.name for p in (SAMPLE / "inbox" / PERIOD).iterdir())[0]
    fs.pipe(f"{root}/inbox/{PERIOD}/{rid}/big.csv", b"date,description,amount\n" + b"2026-02-01,X,-1.00\n" * 3000)
    own = tmp_path / "mine.toml"
    own.write_text("[thresholds]\nmax_file_bytes = 1000000\n")
    rep = remote.stage(f"memory://{root}", [PERIOD], policy_path=own)
    assert rep.truncated == 0 and (rep.local / f"inbox/{PERIOD}/{rid}/big.csv").stat().st_size == len(
        fs.cat(f"{root}/inbox/{PERIOD}/{rid}/big.csv"))
