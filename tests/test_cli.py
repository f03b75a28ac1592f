"""The command-line contract that scripts rely on, run as a real process."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from yuqing.runtime import Runtime

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CED_SAMPLE = FIXTURES / "ced_sample.jsonl.gz"


def yuqing(
    *args: str, stdin: bytes | None = None, database_url: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)
    if database_url:
        env["YUQING_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "yuqing", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


def ok_json(result: subprocess.CompletedProcess[bytes]) -> object:
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout.decode("utf-8"))


def test_init_creates_database_and_config(database_url: str) -> None:
    result = yuqing("init", database_url=database_url)
    assert result.returncode == 0, result.stderr.decode()
    assert Path("yuqing.toml").is_file()
    assert "# database_url" in Path("yuqing.toml").read_text(encoding="utf-8")


def test_a_command_that_had_to_create_the_database_says_so(tmp_path: Path) -> None:
    """`yuqing events list` run outside the folder of yuqing.db answered from a new empty
    database, as if nothing had been collected. It still works, and says so on stderr."""
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'yuqing.db'}"
    (tmp_path / "elsewhere").mkdir()
    first = yuqing("events", "list", "--json", database_url=url)
    assert ok_json(first) == []
    note = first.stderr.decode()
    assert "不存在，已新建空数据库" in note and str(tmp_path / "elsewhere" / "yuqing.db") in note
    again = yuqing("events", "list", "--json", database_url=url)
    assert ok_json(again) == [] and again.stderr == b""
    made = yuqing("init", database_url=f"sqlite:///{tmp_path / 'new.db'}")
    assert made.returncode == 0 and "不存在" not in made.stderr.decode()


def test_import_json_counts_add_up_and_second_import_adds_nothing(database_url: str) -> None:
    rows = len(gzip.decompress(CED_SAMPLE.read_bytes()).splitlines())
    first = ok_json(yuqing("import", str(CED_SAMPLE), "--json", database_url=database_url))
    assert isinstance(first, dict) and set(first) == {"new", "duplicate", "near_duplicate", "rejected"}
    assert sum(first.values()) == rows
    second = ok_json(yuqing("import", str(CED_SAMPLE), "--json", database_url=database_url))
    assert second == {"new": 0, "duplicate": rows, "near_duplicate": 0, "rejected": 0}

    posts = ok_json(yuqing("posts", "list", "--json", "--limit", "5", database_url=database_url))
    assert isinstance(posts, list) and len(posts) == 5
    shown = ok_json(yuqing("posts", "show", str(posts[0]["id"]), "--json", database_url=database_url))
    assert isinstance(shown, dict) and shown["id"] == posts[0]["id"]
    assert shown["raw"]["document_sha256"]


def test_import_from_standard_input() -> None:
    line = json.dumps(
        {"id": "x1", "text": "标准输入导入的一条微博，内容足够长以便去重检测。"}, ensure_ascii=False
    )
    result = ok_json(yuqing("import", "-", "--format", "jsonl", "--json", stdin=line.encode("utf-8")))
    assert result == {"new": 1, "duplicate": 0, "near_duplicate": 0, "rejected": 0}


def test_errors_are_one_line_on_stderr_with_nonzero_status() -> None:
    result = yuqing("import", "no-such-file.jsonl", "--json")
    assert result.returncode != 0
    assert result.stdout == b""
    assert len(result.stderr.decode().strip().splitlines()) == 1
    result = yuqing("import", ".", "--json")  # a folder: said so, not 「文件不存在」
    assert result.returncode != 0 and "是文件夹，不是文件" in result.stderr.decode()
    result = yuqing("posts", "show", "999", "--json")
    assert result.returncode != 0 and "999" in result.stderr.decode()
    result = yuqing("sources", "add", "ftp", "ftp://x", "--name", "x")
    assert result.returncode != 0 and "ftp" in result.stderr.decode()


def test_sources_add_list_and_dead_letters_json() -> None:
    added = ok_json(
        yuqing(
            "sources",
            "add",
            "rss",
            "http://127.0.0.1:9/feed.xml",
            "--name",
            "本地源",
            "--media-tier",
            "city",
            "--schedule",
            "2h",
            "--json",
        )
    )
    assert isinstance(added, dict) and added["schedule"] == "2h"
    hook = ok_json(yuqing("sources", "add", "webhook", "--name", "推送", "--json"))
    assert isinstance(hook, dict) and hook["token"]
    listed = ok_json(yuqing("sources", "list", "--json"))
    assert isinstance(listed, list) and [s["name"] for s in listed] == ["本地源", "推送"]
    assert listed[0]["health"]["state"] == "never_run"
    assert ok_json(yuqing("deadletters", "list", "--json")) == []
    bad = yuqing("sources", "add", "rss", "http://127.0.0.1:9/x", "--name", "坏计划", "--schedule", "每天")
    assert bad.returncode != 0 and "每天" in bad.stderr.decode()


def test_evidence_export_verifies_and_detects_tampering(tmp_path: Path) -> None:
    ok_json(yuqing("import", str(CED_SAMPLE), "--json"))
    posts = ok_json(yuqing("posts", "list", "--json", "--limit", "2"))
    assert isinstance(posts, list)
    ids = [str(p["id"]) for p in posts]
    package = tmp_path / "evidence.zip"
    result = yuqing("evidence", "export", *ids, "-o", str(package))
    assert result.returncode == 0, result.stderr.decode()
    assert yuqing("evidence", "verify", str(package)).returncode == 0
    with zipfile.ZipFile(package) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        names = archive.namelist()
        item = archive.read(f"posts/{ids[0]}/item.raw")
        contents = {n: archive.read(n) for n in names}
    assert json.loads(item)["id"]  # the post's own line, exactly as imported
    assert any(n.startswith("documents/") for n in names)
    assert {f["path"] for f in manifest["files"]} == set(names) - {"manifest.json"}
    # Change one byte of the raw line: verification must fail.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data.replace(b'"id"', b'"iD"') if name.endswith("item.raw") else data)
    result = yuqing("evidence", "verify", str(tampered))
    assert result.returncode != 0 and "SHA-256" in result.stderr.decode()


@pytest.mark.parametrize("command", [["--help"], ["bench", "--help"], ["sources", "--help"]])
def test_help_works(command: list[str]) -> None:
    assert yuqing(*command).returncode == 0


def test_fetch_once_stores_every_item_once_and_dead_letters_failures() -> None:
    from tests.ingest.httpserver import LocalHTTPServer, Reply

    feeds = FIXTURES / "feeds"
    server = LocalHTTPServer().start()
    try:
        server.routes["/robots.txt"] = Reply(404)
        server.routes["/utf8.xml"] = Reply(
            200, {"Content-Type": "application/rss+xml"}, (feeds / "news_utf8.xml").read_bytes()
        )
        server.routes["/gbk.xml"] = Reply(
            200, {"Content-Type": "text/xml; charset=utf-8"}, (feeds / "news_gbk.xml").read_bytes()
        )
        server.routes["/atom.xml"] = Reply(
            200, {"Content-Type": "application/atom+xml"}, (feeds / "forum_atom.xml").read_bytes()
        )
        server.routes["/broken.xml"] = Reply(
            200, {"Content-Type": "application/rss+xml"}, (feeds / "broken.xml").read_bytes()
        )
        server.routes["/page.html"] = Reply(
            200, {"Content-Type": "text/html; charset=gb2312"}, (feeds / "notice_gb18030.html").read_bytes()
        )
        server.routes["/gone.xml"] = Reply(500, {}, b"internal error")
        for kind, path in (
            ("rss", "/utf8.xml"),
            ("rss", "/gbk.xml"),
            ("rss", "/atom.xml"),
            ("rss", "/broken.xml"),
            ("web", "/page.html"),
            ("rss", "/gone.xml"),
        ):
            assert yuqing("sources", "add", kind, server.url(path), "--name", path).returncode == 0

        probe = ok_json(yuqing("sources", "test", "/gbk.xml", "--json"))
        assert isinstance(probe, dict) and probe["items"] == 3
        assert ok_json(yuqing("posts", "list", "--json")) == []  # testing stores nothing

        first = yuqing("fetch", "--once", "--json")
        assert first.returncode == 0, first.stderr.decode()
        summary = {row["source"]: row for row in json.loads(first.stdout)}
        # the same three articles, in UTF-8, in GBK and (cut short) in the broken feed: stored
        # once, by whichever of the sources fetched side by side stored them first
        same = (summary["/utf8.xml"], summary["/gbk.xml"], summary["/broken.xml"])
        assert [row["new"] + row["duplicate"] for row in same[:2]] == [3, 3], same
        assert sum(row["new"] for row in same) == 3, same
        assert summary["/atom.xml"]["new"] == 2
        assert summary["/broken.xml"]["outcome"] == "partial"
        assert summary["/page.html"]["new"] == 1
        assert summary["/gone.xml"]["outcome"] == "failed"

        second = ok_json(yuqing("fetch", "--once", "--json"))
        assert isinstance(second, list)
        assert sum(row["new"] + row["near_duplicate"] for row in second) == 0

        posts = ok_json(yuqing("posts", "list", "--json", "--limit", "100"))
        assert isinstance(posts, list)
        urls = [p["url"] for p in posts if p["url"]]
        assert len(urls) == len(set(urls))
        letters = ok_json(yuqing("deadletters", "list", "--json"))
        assert isinstance(letters, list)
        assert any("500" in d["error"] for d in letters)
        assert any(d["source_id"] == summary["/broken.xml"]["source_id"] for d in letters)
        health = {s["name"]: s["health"] for s in ok_json(yuqing("sources", "list", "--json"))}  # type: ignore[union-attr]
        assert health["/gone.xml"]["state"] == "failing"
        assert health["/utf8.xml"]["state"] == "ok"
    finally:
        server.stop()


def test_help_pages_are_chinese_down_to_typers_own_words() -> None:
    """Panel titles, the usage prefix, defaults and the --help option itself (issue 15 item 3)."""
    shown = yuqing("sources", "add", "--help").stdout.decode()
    wanted = ("用法：", "参数", "选项", "[默认：other]", "[必填]", "显示本帮助并退出。", "添加信息源。")
    for chinese in wanted:
        assert chinese in shown, chinese
    for english in ("Show this message", "Usage:", "Options", "Arguments", "[default:", "[required]"):
        assert english not in shown, english


def test_the_address_given_to_serve_is_the_one_notices_link_to(rt: Runtime) -> None:
    """`yuqing demo --port 8711` served on 8711 while its notices linked to port 8000."""
    from yuqing.cases.service import console_link
    from yuqing.cli.main import _listen_at

    _listen_at(rt, None, None)
    assert console_link(rt, "/alerts/3") == "http://127.0.0.1:8000/alerts/3"
    _listen_at(rt, "192.168.1.20", 8711)
    assert console_link(rt, "/alerts/3") == "http://192.168.1.20:8711/alerts/3"
    rt.settings = rt.settings.model_copy(update={"public_url": "https://yuqing.example.cn/"})
    _listen_at(rt, None, 9000)
    assert console_link(rt, "/alerts/3") == "https://yuqing.example.cn/alerts/3"  # said outright: kept
