"""The webhook endpoint and the read API, served by a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from yuqing.ingest import service
from yuqing.ingest.models import DeadLetter, EvidenceBlob, FetchRun, Post
from yuqing.runtime import Runtime
from yuqing.web.app import create_app

TEXT = "网友爆料某区菜市场销售病死猪肉，市场监管局回应称已立案调查，涉事摊位已被查封，后续结果将及时公布。"


@pytest.fixture
def base_url(rt: Runtime) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(rt), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def _login_cookie(rt: Runtime) -> dict[str, str]:
    """A session for an administrator, as the read API needs a login (the webhook does not)."""
    from yuqing.accounts import service as accounts
    from yuqing.db import transaction
    from yuqing.org import service as org
    from yuqing.web.auth import SESSION_COOKIE

    with transaction(rt.sessions) as session:
        unit = org.create_unit(session, "本单位")
        person = org.add_person(session, "管理员", unit.id)
        org.grant_role(session, person.id, "admin", unit.id)
        account = accounts.create_account(session, person.id, "admin", "a-long-test-password")
        token, _ = accounts.start_session(
            session, account, now=rt.clock(), hours=1, ip="127.0.0.1", user_agent="t"
        )
    return {SESSION_COOKIE: token}


def test_read_api_needs_a_login(rt: Runtime, base_url: str) -> None:
    refused = httpx.get(f"{base_url}/api/v1/posts")
    assert refused.status_code == 401 and "error" in refused.json()
    assert httpx.get(f"{base_url}/api/v1/events").status_code == 401
    assert httpx.get(f"{base_url}/api/v1/posts", cookies=_login_cookie(rt)).status_code == 200


def test_webhook_push_is_authenticated_stored_once_and_kept_as_evidence(rt: Runtime, base_url: str) -> None:
    source, token = service.add_source(rt, "webhook", None, name="推送", platform="weibo")
    assert token
    url = f"{base_url}/api/v1/webhooks/{source.id}"
    body = json.dumps(
        {
            "posts": [
                {"id": "w1", "text": TEXT, "reposts": 321},
                {"id": "w2", "text": "另一条推送的信息，内容不同。"},
            ]
        },
        ensure_ascii=False,
    ).encode()

    assert httpx.post(url, content=body).status_code == 401
    refused = httpx.post(url, content=body, headers={"Authorization": "Bearer wrong"})
    assert (
        refused.status_code == 401
        and refused.json()["error"]["message"] == "推送令牌无效，或推送源不存在、已停用"
    )
    # a source number that does not exist answers the same (a 404 told strangers which exist)
    unknown = httpx.post(f"{base_url}/api/v1/webhooks/{source.id + 100}", content=body)
    assert unknown.status_code == 401 and unknown.json() == refused.json()

    first = httpx.post(
        url, content=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"new": 2, "duplicate": 0, "near_duplicate": 0, "rejected": 0}
    # The same delivery again (a retrying sender): nothing stored twice.
    again = httpx.post(url, content=body, headers={"X-Yuqing-Token": token})
    assert again.json() == {"new": 0, "duplicate": 2, "near_duplicate": 0, "rejected": 0}

    with rt.sessions() as session:
        post = session.scalar(select(Post).where(Post.external_id == "w1"))
        assert post is not None and post.reposts == 321 and post.platform == "weibo"
        blob = session.get(EvidenceBlob, post.raw_sha256)
        assert blob is not None and blob.data == body

    cookies = _login_cookie(rt)
    listed = httpx.get(f"{base_url}/api/v1/posts", params={"limit": 10}, cookies=cookies).json()
    assert {p["text"][:10] for p in listed} == {TEXT[:10], "另一条推送的信息，内"}
    shown = httpx.get(f"{base_url}/api/v1/posts/{post.id}", cookies=cookies).json()
    assert shown["engagement"]["reposts"] == 321
    assert httpx.get(f"{base_url}/api/v1/posts/999999", cookies=cookies).status_code == 404


def test_webhook_bad_json_is_dead_lettered(rt: Runtime, base_url: str) -> None:
    source, token = service.add_source(rt, "webhook", None, name="推送2")
    response = httpx.post(
        f"{base_url}/api/v1/webhooks/{source.id}",
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}"},
    )
    # kept and dead-lettered, and the sender is told why: a 200 would say all went well
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    # in the sender's language, without the parser's English (「parse error: … (right here) ------^」)
    assert message == "推送内容不是合法 JSON：含有不合 JSON 语法的字符", message
    assert not re.search(r"[A-Za-z]{4,}", message.replace("JSON", "")), message
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert letter.raw == b"{not json" and "JSON" in letter.error
    letters = httpx.get(f"{base_url}/api/v1/deadletters", cookies=_login_cookie(rt)).json()
    assert letters[0]["raw_preview"] == "{not json"
    empty = httpx.post(
        f"{base_url}/api/v1/webhooks/{source.id}", content=b"", headers={"Authorization": f"Bearer {token}"}
    )
    assert empty.status_code == 400 and empty.json()["error"]["message"].startswith("推送内容为空")


@pytest.mark.parametrize("declared", ["application/json; charset=gbk", "application/json"])
@pytest.mark.parametrize("posts", [1, 3])  # one goes through the grouped intake, three too
def test_a_delivery_declared_in_gbk_is_read_in_gbk_and_kept_as_sent(
    rt: Runtime, base_url: str, tmp_path: Path, posts: int, declared: str
) -> None:
    """Senders on older Chinese systems post GBK with `charset=gbk`, or without saying so (the
    parser answered 「lexical error: invalid bytes in UTF8 string」); it was dead-lettered as
    「不是合法 JSON」. The evidence keeps the bytes as sent, and its export verifies."""
    from yuqing.ingest.evidence import export_evidence, verify_package

    source, token = service.add_source(rt, "webhook", None, name=f"GBK推送{posts}{len(declared)}")
    items = [{"id": f"g{n}", "text": f"第{n}条：{TEXT}"} for n in range(posts)]
    body = json.dumps({"posts": items}, ensure_ascii=False).encode("gbk")
    answer = httpx.post(
        f"{base_url}/api/v1/webhooks/{source.id}",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": declared},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"] == 0
    with rt.sessions() as session:
        stored = session.scalars(select(Post).where(Post.source_id == source.id).order_by(Post.id)).all()
        assert len(stored) == posts and stored[0].text == f"第0条：{TEXT}"
        assert session.get(EvidenceBlob, stored[0].raw_sha256).data == body  # type: ignore[union-attr]
        ids = [p.id for p in stored]
    package = tmp_path / "evidence.zip"
    export_evidence(rt, ids, package)
    assert verify_package(package) == []


def test_webhook_body_size_limit(rt: Runtime, base_url: str) -> None:
    source, token = service.add_source(rt, "webhook", None, name="推送3")
    rt.settings.webhook_max_bytes = 1000
    response = httpx.post(
        f"{base_url}/api/v1/webhooks/{source.id}",
        content=b"[" + b" " * 5000 + b"]",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 413
    assert "5002 字节" in response.json()["error"]["message"]
    # the sender's mistake is on record: a failed run of the source, and the body's head kept
    with rt.sessions() as session:
        letter = session.scalars(select(DeadLetter)).one()
        assert letter.source_id == source.id and "1000 字节上限" in letter.error
        assert letter.raw is not None and letter.raw.startswith(b"[   ") and len(letter.raw) >= 1000
        run = session.scalars(select(FetchRun)).one()
        assert run.outcome == "failed" and run.finished_at is not None


def test_sources_api_shows_health(rt: Runtime, base_url: str) -> None:
    service.add_source(rt, "rss", "http://127.0.0.1:9/feed", name="源", media_tier="provincial")
    cookies = _login_cookie(rt)
    sources = httpx.get(f"{base_url}/api/v1/sources", cookies=cookies).json()
    assert sources[0]["media_tier"] == "provincial"
    assert sources[0]["health"]["label"] == "尚未采集"
    assert httpx.get(f"{base_url}/openapi.json", cookies=cookies).status_code == 200
    assert httpx.get(f"{base_url}/openapi.json").status_code == 303  # the description needs a login


def test_sources_api_hides_access_parameters_in_urls_and_errors(rt: Runtime, base_url: str) -> None:
    """A generic feed or API with its token in the URL: every signed-in person may list sources,
    so the token is shown as ***; the operator's command line shows it."""
    from sqlalchemy import update

    from yuqing.ingest import queries
    from yuqing.ingest.models import Source

    url = "http://127.0.0.1:9/api/posts?token=s3cret-9f2&page=1"
    source, _ = service.add_source(rt, "api", url, name="带令牌的接口")
    with rt.sessions() as session, session.begin():
        session.execute(
            update(Source).where(Source.id == source.id).values(last_error=f"HTTP 403 from {url}")
        )
    listed = httpx.get(f"{base_url}/api/v1/sources", cookies=_login_cookie(rt)).json()
    [shown] = [s for s in listed if s["id"] == source.id]
    assert shown["url"] == "http://127.0.0.1:9/api/posts?token=***&page=1"
    assert "s3cret" not in json.dumps(shown, ensure_ascii=False)
    [operator] = [s for s in queries.list_sources(rt, reveal=True) if s["id"] == source.id]
    assert operator["url"] == url


def test_sources_api_hides_access_parameters_whatever_the_api_calls_them(rt: Runtime, base_url: str) -> None:
    """APIs name their keys in many ways (`access_key`, `app_key`, `secret`, `sign`, `password`);
    each is an access parameter the list hides, while the query's other parameters stay readable."""
    url = (
        "http://127.0.0.1:9/api/posts?keyword=%E5%8D%97%E4%BA%AC&access_key=AK-s3cret-1"
        "&app_key=AK-s3cret-2&secret=s3cret-3&sign=s3cret-4&password=s3cret-5&page=1"
    )
    source, _ = service.add_source(rt, "api", url, name="各式密钥的接口")
    listed = httpx.get(f"{base_url}/api/v1/sources", cookies=_login_cookie(rt)).json()
    [shown] = [s for s in listed if s["id"] == source.id]
    assert "s3cret" not in shown["url"], shown["url"]
    assert shown["url"] == (
        "http://127.0.0.1:9/api/posts?keyword=%E5%8D%97%E4%BA%AC&access_key=***"
        "&app_key=***&secret=***&sign=***&password=***&page=1"
    )


def test_runs_and_dead_letters_hide_tokens_and_passwords_of_failed_urls(rt: Runtime, base_url: str) -> None:
    """A failed fetch names its URL in the run's error and the dead letter: every signed-in person
    may read those lists, so a token and the password of `user:password@` are shown as ***,
    leaving the message after them readable; the operator's command line shows them."""
    from yuqing.ingest import queries
    from yuqing.ingest.fetcher import Fetcher
    from yuqing.ingest.store import PostWriter

    url = "http://monitor:Pa55w0rd-basic@127.0.0.1:9/feed.xml?token=S3CRET-FEED-TOKEN"
    service.add_source(rt, "rss", url, name="带密码的源")
    with Fetcher(service.fetch_policy(rt.settings)) as fetcher:
        summary = service.run_source(
            rt, PostWriter(rt.sessions, rt.settings, rt.clock), "带密码的源", fetcher
        )
    assert summary.outcome == "failed"
    cookies = _login_cookie(rt)
    runs = httpx.get(f"{base_url}/api/v1/runs", cookies=cookies).json()
    letters = httpx.get(f"{base_url}/api/v1/deadletters", cookies=cookies).json()
    shown = json.dumps([runs, letters], ensure_ascii=False)
    assert "S3CRET" not in shown and "Pa55w0rd" not in shown
    assert "http://monitor:***@127.0.0.1:9/feed.xml?token=***" in letters[0]["location"]
    assert runs[0]["error"].startswith("抓取失败") and "token=***" in runs[0]["error"]
    operator = json.dumps([queries.list_runs(rt, reveal=True), queries.list_dead_letters(rt, reveal=True)])
    assert "S3CRET-FEED-TOKEN" in operator and "Pa55w0rd-basic" in operator


def test_one_bad_number_costs_its_own_post_not_the_delivery(rt: Runtime, base_url: str) -> None:
    """Issue item 6: a time no datetime can hold and a count no column can hold used to answer 500,
    store none of the good posts, write no dead letter and leave the run unfinished."""
    source, token = service.add_source(rt, "webhook", None, name="推送4")
    body = (
        '{"posts": ['
        f'{{"id": "ok1", "text": "{TEXT}"}},'
        '{"id": "bad-time", "text": "时间", "published_at": 99999999999999999999},'
        '{"id": "bad-count", "text": "转发", "reposts": 1e26},'
        '{"id": "ok2", "text": "另一条推送的信息，内容不同。"}'
        "]}"
    ).encode()
    response = httpx.post(
        f"{base_url}/api/v1/webhooks/{source.id}", content=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"new": 2, "duplicate": 0, "near_duplicate": 0, "rejected": 2}
    with rt.sessions() as session:
        assert set(session.scalars(select(Post.external_id))) == {"ok1", "ok2"}
        letters = {d.location: d for d in session.scalars(select(DeadLetter))}
        assert set(letters) == {"item=1", "item=2"}
        assert "范围" in letters["item=1"].error and "reposts" in letters["item=2"].error
        assert letters["item=1"].raw and b"99999999999999999999" in letters["item=1"].raw
        run = session.scalars(select(FetchRun)).one()
        assert run.finished_at is not None and run.outcome == "partial"


def test_a_delivery_over_the_post_limit_is_refused_whole_before_anything_is_stored(
    rt: Runtime, base_url: str
) -> None:
    source, token = service.add_source(rt, "webhook", None, name="推送5")
    rt.settings.webhook_max_items = 10
    posts = [{"id": f"n{i}", "text": f"第{i}条推送：{TEXT}"} for i in range(11)]
    response = httpx.post(
        f"{base_url}/api/v1/webhooks/{source.id}",
        content=json.dumps(posts, ensure_ascii=False).encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 413
    message = response.json()["error"]["message"]
    assert "11 条" in message and "10 条" in message and "分批" in message
    with rt.sessions() as session:
        assert session.scalars(select(Post)).all() == []
        letter = session.scalars(select(DeadLetter)).one()
        assert "分批" in letter.error and letter.source_id == source.id
    # Ten at a time are taken.
    accepted = httpx.post(
        f"{base_url}/api/v1/webhooks/{source.id}",
        content=json.dumps(posts[:10], ensure_ascii=False).encode(),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert accepted.status_code == 200
    assert accepted.json()["new"] + accepted.json()["near_duplicate"] == 10
