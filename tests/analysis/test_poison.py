"""A post the stages cannot analyse does not hold the queue up, and nothing is lost.

The fault is injected (the stages have no known post that breaks them): the sentiment stage is
made to raise for any batch that holds a post with the marker below, as a defect met only by one
post's text would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from tests.analysis.test_pipeline import HOSPITAL, load, setup_topics
from yuqing.analysis.models import AnalysisQueue, PostAnalysis
from yuqing.analysis.pipeline import ANALYSIS_STAGE, AnalysisPipeline, pipeline_status
from yuqing.analysis.steps import BatchPost
from yuqing.cli.main import app
from yuqing.ingest.models import DeadLetter, Post
from yuqing.runtime import Runtime

MARKER = "𝕏𝕏"  # mathematical double-struck letters: a text the injected defect trips on
POISON = f"南京鼓楼医院门口{MARKER}有人拉横幅，围观的人很多。"


class Injected:
    """Makes the sentiment stage fail like a defect: for batches holding the marker, or always."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error
        original = AnalysisPipeline.stage_sentiment

        def stage(pipeline: AnalysisPipeline, posts: Sequence[BatchPost]) -> None:
            self.calls += 1
            if self.error is not None:
                raise self.error
            if any(MARKER in p.text for p in posts):
                raise ValueError("index out of range in the injected defect")
            original(pipeline, posts)

        monkeypatch.setattr(AnalysisPipeline, "stage_sentiment", stage)


def rows(prefix: str, count: int, *, poison_at: int | None = None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(count):
        text = POISON if i == poison_at else f"网友{prefix}{i}说：{HOSPITAL}"
        out.append({"id": f"{prefix}{i}", "text": text, "published_at": f"2026-11-20T08:{i:02d}:00+08:00"})
    return out


def analysed_ids(rt: Runtime) -> set[int]:
    with rt.sessions() as session:
        return set(session.scalars(select(PostAnalysis.post_id)))


def queued_ids(rt: Runtime) -> set[int]:
    with rt.sessions() as session:
        return set(session.scalars(select(AnalysisQueue.post_id)))


def analysis_dead_letters(rt: Runtime) -> list[DeadLetter]:
    with rt.sessions() as session:
        return list(session.scalars(select(DeadLetter).where(DeadLetter.stage == ANALYSIS_STAGE)))


def poison_id(rt: Runtime) -> int:
    with rt.sessions() as session:
        found = session.scalar(select(Post.id).where(Post.text == POISON))
    assert found is not None
    return found


@pytest.fixture
def cli_env(rt: Runtime) -> dict[str, str]:
    return {"YUQING_DATABASE_URL": rt.settings.database_url}


def test_a_post_the_stages_cannot_analyse_goes_to_the_dead_letters_and_the_rest_is_analysed(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    setup_topics(rt)
    load(rt, rows("a", 9, poison_at=4))
    injected = Injected(monkeypatch)
    counts = AnalysisPipeline(rt).run()
    bad = poison_id(rt)
    assert (counts.posts, counts.failed) == (8, 1)
    assert bad not in analysed_ids(rt) and len(analysed_ids(rt)) == 8
    assert queued_ids(rt) == set()  # nothing holds the queue up
    [letter] = analysis_dead_letters(rt)
    assert letter.location == f"post={bad}"
    assert f"信息 {bad} 无法分析" in letter.error and "ValueError" in letter.error
    assert "yuqing analyze --retry-failed" in letter.error
    with rt.sessions() as session:
        source = session.scalar(select(Post.source_id).where(Post.id == bad))
        # the other posts still make their event, in their order
        events = set(session.scalars(select(PostAnalysis.event_id).where(PostAnalysis.event_id.is_not(None))))
    assert letter.source_id == source
    assert len(events) == 1
    status = pipeline_status(rt)
    assert (status["stored"], status["analysed"], status["backlog"], status["failed"]) == (9, 8, 0, 1)
    result = CliRunner().invoke(app, ["pipeline", "status"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "无法分析 1 条" in result.output

    # The defect is fixed: the post is queued again and analysed, into the same event.
    injected.calls = 0
    monkeypatch.undo()
    result = CliRunner().invoke(app, ["analyze", "--retry-failed"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "重新加入分析队列 1 条" in result.output and "分析 1 条信息" in result.output
    assert bad in analysed_ids(rt)
    assert pipeline_status(rt)["failed"] == 0
    result = CliRunner().invoke(app, ["analyze", "--retry-failed"], env=cli_env)
    assert "重新加入分析队列 0 条" in result.output
    assert len(analysis_dead_letters(rt)) == 1  # the record of what happened stays


def test_a_failing_post_alone_waits_until_another_post_is_analysed(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alone in its batch, a failing post cannot be told from a broken installation: the error
    is raised and the post stays queued; once a later post is analysed, it is moved."""
    setup_topics(rt)
    Injected(monkeypatch)
    load(rt, rows("p", 1, poison_at=0))
    pipeline = AnalysisPipeline(rt)
    with pytest.raises(ValueError, match="injected"):
        pipeline.run()
    bad = poison_id(rt)
    assert queued_ids(rt) == {bad} and analysis_dead_letters(rt) == []
    load(rt, rows("g", 2), name="later.jsonl")
    counts = pipeline.run()
    assert (counts.posts, counts.failed) == (2, 1)
    assert queued_ids(rt) == set() and len(analysed_ids(rt)) == 2
    assert [d.location for d in analysis_dead_letters(rt)] == [f"post={bad}"]


def test_when_every_post_fails_nothing_is_moved_and_the_batch_is_not_split_again(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_topics(rt)
    load(rt, rows("s", 40))
    injected = Injected(monkeypatch, ValueError("broken installation"))
    pipeline = AnalysisPipeline(rt)
    with pytest.raises(ValueError, match="broken installation"):
        pipeline.run()
    assert injected.calls > 20  # split down to single posts until 20 failed alone
    assert analysis_dead_letters(rt) == [] and len(queued_ids(rt)) == 40
    injected.calls = 0
    with pytest.raises(ValueError, match="broken installation"):
        pipeline.run()
    assert injected.calls == 1  # the next round tries the batch once
    injected.error = None  # repaired: everything is analysed, nothing was lost
    counts = pipeline.run()
    assert (counts.posts, counts.failed) == (40, 0)
    assert analysis_dead_letters(rt) == []


def test_a_database_failure_is_not_blamed_on_the_posts(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    setup_topics(rt)
    load(rt, rows("d", 5))
    lost = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    injected = Injected(monkeypatch, lost)
    with pytest.raises(OperationalError):
        AnalysisPipeline(rt).run()
    assert injected.calls == 1
    assert analysis_dead_letters(rt) == [] and len(queued_ids(rt)) == 5


def test_the_json_counts_name_the_failed_posts(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]
) -> None:
    setup_topics(rt)
    load(rt, rows("j", 4, poison_at=1))
    Injected(monkeypatch)
    result = CliRunner().invoke(app, ["analyze", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["posts"], counts["failed"]) == (3, 1)
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AnalysisQueue)) == 0
