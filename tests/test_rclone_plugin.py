"""The rclone storage plugin against real `rclone serve webdav` and `rclone serve sftp` servers."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from snakemake_interface_storage_plugins.tests import TestStorageBase

from pose3d.testing.rclone_server import PASSWORD, RcloneServer, rclone_binary, start_server

pytestmark = [
    pytest.mark.rclone,
    pytest.mark.skipif(
        rclone_binary() is None, reason="the rclone binary is not installed (apt-get install rclone)"
    ),
]

LOGGER_NAME = "test_rclone_plugin"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _provider(tmp_path: Path, **settings):
    from snakemake_storage_plugin_rclone import StorageProvider, StorageProviderSettings

    settings = {"retries": 2, "retries_sleep": 0.05, "low_level_retries": 1, **settings}
    return StorageProvider(
        local_prefix=tmp_path / "local_prefix",
        logger=logging.getLogger(LOGGER_NAME),
        settings=StorageProviderSettings(**settings),
    )


def _assert_no_credentials(text: str, server: RcloneServer) -> None:
    assert PASSWORD not in text
    assert server.obscured_password not in text


@pytest.fixture(scope="module", params=["webdav", "sftp"])
def server(request, tmp_path_factory):
    """A real rclone server over a temporary folder, stopped by pid afterwards."""
    base = tmp_path_factory.mktemp(f"rclone-{request.param}")
    running = start_server(request.param, base / "served", base / "server.log")
    try:
        yield running
    finally:
        running.stop()


# --- queries (no server)


def test_query_parsing_normalises_and_redacts():
    from snakemake_storage_plugin_rclone.query import QueryError, parse_query, redact

    named = parse_query("onedrive:h36m/shards/shard_00001.h5")
    assert (named.name, named.params, named.path) == ("onedrive", (), "h36m/shards/shard_00001.h5")
    assert named.local_dir() == "onedrive"

    unquoted = parse_query(":webdav,url=http://127.0.0.1:8080,user=me,pass=OBSCURED:data/x.h5")
    assert dict(unquoted.params) == {"url": "http://127.0.0.1:8080", "user": "me", "pass": "OBSCURED"}
    assert unquoted.path == "data/x.h5"
    assert str(unquoted) == ":webdav,url='http://127.0.0.1:8080',user=me,pass=OBSCURED:data/x.h5"
    assert parse_query(str(unquoted)) == unquoted
    assert "OBSCURED" not in unquoted.redacted() and "OBSCURED" not in unquoted.local_dir()
    assert unquoted.secrets() == ["OBSCURED"]

    for bad in ["results/chunks/S1.h5", "s3://bucket/key", "remote:a/../b", ":webdav,url:x", ""]:
        with pytest.raises(QueryError):
            parse_query(bad)

    text = "Failed to create file system for \":sftp,host=h,pass='abc,def',token=xyz:p\": denied"
    assert "abc" not in redact(text) and "xyz" not in redact(text)


def test_provider_validates_and_prints_queries_safely(tmp_path):
    from snakemake_storage_plugin_rclone import StorageProvider

    assert StorageProvider.is_valid_query("onedrive:h36m/{sample}.h5")
    assert not StorageProvider.is_valid_query("results/local/file.h5")
    for example in StorageProvider.example_queries():
        assert StorageProvider.is_valid_query(example.query), example.query
    provider = _provider(tmp_path)
    query = ":sftp,host=example.org,user=me,pass=TOPSECRET:data/a.h5"
    assert "TOPSECRET" not in provider.safe_print(query)
    assert "TOPSECRET" not in str(provider.object(query).local_path())


# --- each plugin method against a real server


def test_absent_file(server, tmp_path):
    obj = _provider(tmp_path).object(server.query("absent/nothing.h5"))
    assert obj.exists() is False
    from snakemake_interface_common.exceptions import WorkflowError

    with pytest.raises(WorkflowError, match="does not exist"):
        obj.mtime()
    with pytest.raises(WorkflowError, match="does not exist"):
        obj.size()
    with pytest.raises(WorkflowError, match="does not exist"):
        obj.retrieve_object()
    obj.remove()  # removing what is not there is not an error
    assert list(_provider(tmp_path).object(server.query("absent/{name}.h5")).list_candidate_matches()) == []


def test_store_retrieve_remove_preserve_bytes(server, tmp_path):
    provider = _provider(tmp_path)
    obj = provider.object(server.query("shards/split/shard_00000.h5"))
    payload = os.urandom(300_000)
    obj.local_path().parent.mkdir(parents=True, exist_ok=True)
    obj.local_path().write_bytes(payload)
    before = time.time()
    obj.store_object()

    on_server = server.root / "shards/split/shard_00000.h5"
    assert on_server.read_bytes() == payload
    obj.local_path().unlink()
    assert obj.exists() is True
    assert obj.size() == len(payload)
    assert abs(obj.mtime() - before) < 120  # remote clock, second precision

    obj.retrieve_object()
    assert _sha256(obj.local_path()) == hashlib.sha256(payload).hexdigest()

    # Storing again replaces the content even when size and second-precision mtime match.
    replacement = os.urandom(len(payload))
    obj.local_path().write_bytes(replacement)
    obj.store_object()
    assert on_server.read_bytes() == replacement

    obj.remove()
    assert obj.exists() is False
    assert not on_server.exists()


def test_glob_inventory_and_listing(server, tmp_path):
    from snakemake.io import IOCache

    provider = _provider(tmp_path)
    folder = server.root / "glob"
    (folder / "deeper").mkdir(parents=True, exist_ok=True)
    sizes = {"shard_00000.h5": 10, "shard_00001.h5": 20, "notes.txt": 5, "deeper/shard_00002.h5": 30}
    for name, size in sizes.items():
        (folder / name).write_bytes(b"x" * size)

    pattern = provider.object(server.query("glob/{name}.h5"))
    matches = sorted(pattern.list_candidate_matches())
    assert matches == sorted(server.query(f"glob/{name}") for name in sizes)
    assert sorted(provider.list_objects(server.query("glob"))) == matches

    present = provider.object(server.query("glob/shard_00001.h5"))
    cache = IOCache(max_wait_time=10)
    asyncio.run(present.inventory(cache))
    sibling = provider.object(server.query("glob/shard_00000.h5"))
    absent = provider.object(server.query("glob/shard_00009.h5"))
    assert cache.exists_in_storage[present.cache_key()] is True
    assert cache.exists_in_storage[sibling.cache_key()] is True
    assert cache.size[sibling.cache_key()] == 10
    assert cache.mtime[sibling.cache_key()].storage() == pytest.approx(sibling.mtime(), abs=1)
    assert absent.get_inventory_parent() in cache.exists_in_storage.has_inventory
    assert (
        absent.cache_key() not in cache.exists_in_storage or not cache.exists_in_storage[absent.cache_key()]
    )
    _assert_no_credentials(present.get_inventory_parent(), server)

    missing_folder = provider.object(server.query("no/such/folder/file.h5"))
    asyncio.run(missing_folder.inventory(cache))
    assert cache.exists_in_storage[missing_folder.cache_key()] is False


def test_directory_store_and_retrieve(server, tmp_path):
    provider = _provider(tmp_path)
    obj = provider.object(server.query("dirs/tensorboard"))
    local = obj.local_path()
    (local / "sub").mkdir(parents=True)
    (local / "a.bin").write_bytes(b"a" * 100)
    (local / "sub" / "b.bin").write_bytes(b"b" * 200)
    obj.store_object()
    assert (server.root / "dirs/tensorboard/sub/b.bin").read_bytes() == b"b" * 200
    assert obj.size() == 0
    import shutil

    shutil.rmtree(local)
    obj.retrieve_object()
    assert (local / "sub" / "b.bin").read_bytes() == b"b" * 200
    obj.remove()
    assert not (server.root / "dirs/tensorboard").exists()


# --- failure: remote down


def test_remote_down_retries_then_names_remote_and_file(tmp_path, caplog):
    from snakemake_interface_common.exceptions import WorkflowError

    down = start_server("webdav", tmp_path / "served", tmp_path / "server.log")
    down.stop()
    provider = _provider(tmp_path, retries=3, retries_sleep=0.05)
    obj = provider.object(down.query("h36m/shard_00007.h5"))
    caplog.set_level(logging.WARNING, logger=LOGGER_NAME)

    with pytest.raises(WorkflowError) as raised:
        obj.exists()
    message = str(raised.value)
    assert "failed after 3 attempt(s)" in message
    assert f"127.0.0.1:{down.port}" in message and "h36m/shard_00007.h5" in message
    attempts = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage()]
    assert [("attempt 1/3" in m, "attempt 2/3" in m) for m in attempts] == [(True, False), (False, True)]

    obj.local_path().parent.mkdir(parents=True, exist_ok=True)
    obj.local_path().write_bytes(b"data")
    with pytest.raises(WorkflowError, match="copyto of file 'h36m/shard_00007.h5'"):
        obj.store_object()
    everything = message + "\n".join(r.getMessage() for r in caplog.records) + str(obj.local_path())
    _assert_no_credentials(everything, down)


# --- a real Snakemake run with outputs on the remote

SNAKEFILE = """
storage rclone:
    provider="rclone",
    retries=2,
    retries_sleep=0.2,


REMOTE = config["remote"]


rule all:
    input:
        storage.rclone(f"{REMOTE}/out/c.txt"),


rule a:
    input:
        "in1.txt",
    output:
        storage.rclone(f"{REMOTE}/out/a.txt"),
    shell:
        "tr a-z A-Z < {input} > {output}"


rule b:
    input:
        "in2.txt",
    output:
        storage.rclone(f"{REMOTE}/out/b.txt"),
    shell:
        "rev < {input} > {output}"


rule c:
    input:
        storage.rclone(f"{REMOTE}/out/a.txt"),
        storage.rclone(f"{REMOTE}/out/b.txt"),
    output:
        storage.rclone(f"{REMOTE}/out/c.txt"),
    shell:
        "cat {input} > {output}"
"""


def _snakemake(workdir: Path) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--cores",
            "2",
            "--configfile",
            "config.yaml",
            "--printshellcmds",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_snakemake_workflow_with_outputs_on_the_remote(tmp_path):
    server = start_server("webdav", tmp_path / "served", tmp_path / "server.log")
    try:
        workdir = tmp_path / "workflow"
        workdir.mkdir()
        (workdir / "Snakefile").write_text(textwrap.dedent(SNAKEFILE))
        (workdir / "config.yaml").write_text(f'remote: "{server.remote}:h36m"\n')  # like storage.remote
        (workdir / "in1.txt").write_text("first input\n")
        (workdir / "in2.txt").write_text("second input\n")
        # Remote mtimes have one-second precision: give the inputs whole-second times in the past.
        past = int(time.time()) - 10
        for name in ("in1.txt", "in2.txt"):
            os.utime(workdir / name, (past, past))

        logs = [_snakemake(workdir)]
        out = server.root / "h36m" / "out"
        assert (out / "a.txt").read_text() == "FIRST INPUT\n"
        assert (out / "c.txt").read_text() == "FIRST INPUT\ntupni dnoces\n"
        first = {name: (out / name).stat().st_mtime for name in ("a.txt", "b.txt", "c.txt")}

        logs.append(_snakemake(workdir))
        assert "Nothing to be done" in logs[-1]
        assert {name: (out / name).stat().st_mtime for name in first} == first

        # Edit one input (Snakemake 9 ignores a bare touch when the checksum is unchanged). It must
        # be newer than the outputs at the remote's one-second precision.
        time.sleep(1.1)
        now = int(time.time())
        (workdir / "in2.txt").write_text("second input, edited\n")
        os.utime(workdir / "in2.txt", (now, now))
        logs.append(_snakemake(workdir))
        after = {name: (out / name).stat().st_mtime for name in first}
        assert after["a.txt"] == first["a.txt"]
        assert after["b.txt"] > first["b.txt"] and after["c.txt"] > first["c.txt"]
        assert "rule a:" not in logs[-1] and "rule b:" in logs[-1] and "rule c:" in logs[-1]
        assert (out / "c.txt").read_text() == "FIRST INPUT\ndetide ,tupni dnoces\n"

        run_logs = [path.read_text() for path in (workdir / ".snakemake" / "log").glob("*.log")]
        _assert_no_credentials("\n".join(logs + run_logs), server)
    finally:
        server.stop()


# --- the interface package's own contract tests (what the maintained plugins run in their CI)


class TestStorageInterfaceContract(TestStorageBase):
    __test__ = True
    files_only = False  # directory outputs too

    @pytest.fixture(autouse=True)
    def _use_server(self, server):
        self.server = server

    def get_storage_provider_cls(self):
        from snakemake_storage_plugin_rclone import StorageProvider

        return StorageProvider

    def get_storage_provider_settings(self):
        from snakemake_storage_plugin_rclone import StorageProviderSettings

        return StorageProviderSettings(retries=1)

    def get_query(self, tmp_path) -> str:
        return self.server.query(f"contract/{tmp_path.name}/test.txt")

    def get_query_not_existing(self, tmp_path) -> str:
        return self.server.query(f"contract/{tmp_path.name}/missing.txt")
