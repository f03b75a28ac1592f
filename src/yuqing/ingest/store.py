"""Pipeline stages `ingest.dedup_exact`, `ingest.dedup_near` and `ingest.store`.

Each batch is written in one transaction: its posts, the dead letters of its rejected rows and the
sightings of its duplicates, so a crash half-way through an import loses nothing that was
committed, and running the import again adds nothing twice (exact duplicates are found by URL or
id, which are unique in the database). A batch the database refuses for its data (a value a
column cannot hold) is split in halves until the rows at fault are found: they become dead
letters and the rest of the batch lands.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Table, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from yuqing.db import utcnow
from yuqing.ingest.jsonstream import record_bytes
from yuqing.ingest.models import DeadLetter, EvidenceBlob, FetchRun, HotListRank, Post, PostSighting
from yuqing.ingest.neardup import NearDuplicateIndex
from yuqing.ingest.normalise import storable
from yuqing.ingest.parallel import prepared_batches
from yuqing.ingest.prepare import SourceContext
from yuqing.ingest.records import Document, IngestCounts, PostDraft, RawItem, Rejected
from yuqing.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
_LOOKUP_CHUNK = 500
_DRAFT_COLUMNS = (
    "url_key",
    "platform",
    "media_tier",
    "text_original",
    "text",
    "fetched_at",
    "content_hash",
    "external_id",
    "url",
    "canonical_url",
    "kind",
    "parent_external_id",
    "root_external_id",
    "title",
    "author",
    "author_id",
    "author_verified",
    "author_kind",
    "author_followers",
    "author_following",
    "author_posts",
    "location",
    "published_at",
    "views",
    "reposts",
    "comments",
    "likes",
    "item_sha256",
    "extra",
)
MAX_DEAD_LETTER_RAW = 1024 * 1024
# Tables whose planner statistics an import refreshes on PostgreSQL (see `PostWriter.analyze`).
_ANALYZED_TABLES = ("posts", "post_sightings", "dead_letters")
# What a database raises for a row it will not store; anything else (a lost connection, a lock
# that timed out) is the store's problem, not the row's, and stops the run.
_ROW_ERRORS = (StatementError, ValueError, TypeError, OverflowError)
_STORE_ERRORS = (OperationalError, InterfaceError, DisconnectionError)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def insert_ignoring_conflicts(table: Table, dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the dialect in use."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def store_document(session: Session, document: Document) -> str:
    """Keep the bytes as evidence (once, addressed by SHA-256) and return that address."""
    digest = hashlib.sha256(document.data).hexdigest()
    table = EvidenceBlob.__table__
    assert isinstance(table, Table)
    session.execute(
        insert_ignoring_conflicts(table, session.get_bind().dialect.name),
        [
            {
                "sha256": digest,
                "size": len(document.data),
                "media_type": document.media_type,
                "origin": document.origin,
                "fetched_at": document.fetched_at,
                "data": document.data,
            }
        ],
    )
    return digest


def add_run_progress(session: Session, run_id: int, counts: IngestCounts) -> None:
    """Add a batch's counts to its open run in the batch's transaction, so that a run whose process
    is killed outright still says what its committed batches read, stored, merged and refused
    (`runs.close_interrupted_runs`). The run's end writes the totals again."""
    session.execute(
        update(FetchRun)
        .where(FetchRun.id == run_id, FetchRun.finished_at.is_(None))
        .values(
            items_read=FetchRun.items_read + counts.read,
            items_new=FetchRun.items_new + counts.new,
            items_duplicate=FetchRun.items_duplicate + counts.duplicate,
            items_near_duplicate=FetchRun.items_near_duplicate + counts.near_duplicate,
            items_rejected=FetchRun.items_rejected + counts.rejected,
        )
        .execution_options(synchronize_session=False)
    )


def record_dead_letters(
    session: Session, rejected: Sequence[Rejected], source_id: int | None, run_id: int | None
) -> None:
    """Store refused inputs. One already listed for this source — the same bytes at the same
    place refused at the same stage for the same reason: a retried webhook delivery, a file
    imported again, a feed served cut the same way — is counted on that dead letter (`repeats`,
    `last_seen_at`) instead of listed again. Equal items at different places stay apart."""
    if not rejected:
        return
    now = utcnow()
    rows: dict[tuple[str, str, str | None, str | None], dict[str, Any]] = {}
    for item in rejected:
        sha = hashlib.sha256(item.raw).hexdigest() if item.raw is not None else None
        error = storable(item.error[:4000])
        location = storable(item.locator)
        key = (item.stage, error, sha, location)
        if key in rows:
            rows[key]["repeats"] += 1
            continue
        rows[key] = {
            "source_id": source_id,
            "fetch_run_id": run_id,
            "created_at": now,
            "stage": item.stage,
            "error": error,
            "location": location,
            "raw": item.raw[:MAX_DEAD_LETTER_RAW] if item.raw is not None else None,
            "raw_size": len(item.raw) if item.raw is not None else None,
            "raw_sha256": sha,
            "repeats": 0,
            "last_seen_at": None,
        }
    seen = _listed_dead_letters(session, source_id, list(rows))
    fresh = []
    again: dict[int, int] = {}
    for known, row in rows.items():
        listed = seen.get(known)
        if listed is None:
            fresh.append(row)
        else:
            again[listed] = again.get(listed, 0) + row["repeats"] + 1
    if again:  # one statement for all, in id order (two writers lock rows in the same order)
        table = DeadLetter.__table__
        assert isinstance(table, Table)
        session.connection().execute(
            update(table)
            .where(table.c.id == bindparam("listed"))
            .values(repeats=table.c.repeats + bindparam("more"), last_seen_at=now),
            [{"listed": listed, "more": more} for listed, more in sorted(again.items())],
        )
    if fresh:
        table = DeadLetter.__table__
        assert isinstance(table, Table)
        session.execute(insert(table), fresh)


def _listed_dead_letters(
    session: Session, source_id: int | None, keys: list[tuple[str, str, str | None, str | None]]
) -> dict[tuple[str, str, str | None, str | None], int]:
    """The dead letters of the source already listed under these keys (stage, error, raw SHA-256,
    location), by key."""
    source = DeadLetter.source_id.is_(None) if source_id is None else DeadLetter.source_id == source_id
    places = sorted({place for _, _, _, place in keys if place is not None})
    wanted: list[ColumnElement[bool]] = [
        DeadLetter.location.in_(places[i : i + 500]) for i in range(0, len(places), 500)
    ]
    found: dict[tuple[str, str, str | None, str | None], int] = {}
    columns = (DeadLetter.id, DeadLetter.stage, DeadLetter.error, DeadLetter.raw_sha256, DeadLetter.location)
    for condition in wanted:
        for row_id, stage, error, sha, location in session.execute(
            select(*columns).where(source, condition).order_by(DeadLetter.id)
        ):
            found.setdefault((stage, error, sha, location), row_id)
    return found


class PostWriter:
    """Writes batches of items as posts with exact and near-duplicate detection.

    One writer per process: it owns the in-memory near-duplicate index, loaded on first need from
    the posts fetched within the configured window.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._clock = clock
        self._near: NearDuplicateIndex | None = None
        # The scheduler thread and webhook requests share one writer and its index.
        self._lock = threading.Lock()
        self._indexed = False  # the index took posts in the transaction under way
        self._inserted = False  # the transaction under way stored new posts
        # Told after each committed batch that stored new posts (`yuqing serve` wakes its
        # analysis, or the announcer, instead of letting the posts wait for its next tick).
        self.on_stored: Callable[[], None] | None = None

    # -- near-duplicate index ------------------------------------------------------------------
    def near_index(self, session: Session) -> NearDuplicateIndex:
        if self._near is None:
            index = NearDuplicateIndex(max_items=self._settings.near_duplicate_max_items)
            since = self._clock() - dt.timedelta(days=self._settings.near_duplicate_window_days)
            rows = session.execute(
                select(Post.id, Post.text, Post.near_duplicate_of)
                .where(Post.fetched_at >= since, Post.text != "")
                .order_by(Post.id)
                .execution_options(yield_per=20_000)
            )
            for batch in chunked(rows, 20_000):
                # A stored copy keeps resolving to the first copy it was linked to, so a later
                # copy of it links there too, as it would have without the restart.
                index.add(
                    [r.id for r in batch],
                    [r.text for r in batch],
                    roots=[r.near_duplicate_of for r in batch],
                )
            self._near = index
            log.info("near-duplicate index loaded with %d posts", len(index))
        return self._near

    # -- writing -------------------------------------------------------------------------------
    def write(
        self,
        context: SourceContext,
        items: Iterable[RawItem | Rejected] | Callable[[], Iterable[RawItem | Rejected]],
        *,
        run_id: int | None = None,
        document_sha256: str | None = None,
        fetched_at: dt.datetime | None = None,
        on_batch: Callable[[IngestCounts], None] | None = None,
        prepare_in_worker: bool = False,
        analyze_after_rows: int | None = None,
    ) -> IngestCounts:
        """Prepare and store every item, one transaction per batch. Given a function that yields
        the items, preparation can run in a worker process (`prepare_in_worker`). With
        `analyze_after_rows`, a bulk load refreshes PostgreSQL's statistics once that many rows
        are stored (then at ten times as many, and so on) and at the end."""
        total = IngestCounts()
        when = fetched_at or self._clock()
        source = items if callable(items) else (lambda: items)
        batches = prepared_batches(
            source,
            context,
            when,
            self._settings.import_batch_size,
            use_worker=prepare_in_worker and callable(items),
        )
        next_analyze = analyze_after_rows
        for prepared in batches:
            counts = self.write_prepared(context, prepared, run_id=run_id, document_sha256=document_sha256)
            total.add(counts)
            if next_analyze is not None and total.new + total.near_duplicate >= next_analyze:
                self.analyze()
                next_analyze *= 10
            if on_batch is not None:
                on_batch(counts)
        if analyze_after_rows is not None and total.new + total.near_duplicate:
            self.analyze()
        return total

    def analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics of the posts tables. Plans made while `posts` was
        empty scan it row by row; an import into a new database slowed to a crawl (166 rows/s at
        180,000 rows, against 8,100 after ANALYZE) where autovacuum is off or late."""
        with self._factory() as session, session.begin():
            if session.get_bind().dialect.name != "postgresql":
                return
            session.execute(text("ANALYZE " + ", ".join(_ANALYZED_TABLES)))

    def write_prepared(
        self,
        context: SourceContext,
        prepared: Sequence[PostDraft | Rejected],
        *,
        run_id: int | None,
        document_sha256: str | None,
    ) -> IngestCounts:
        rejected = [p for p in prepared if isinstance(p, Rejected)]
        drafts = [p for p in prepared if isinstance(p, PostDraft)]
        try:
            return self._write_batch(context, drafts, rejected, run_id, document_sha256)
        except _ROW_ERRORS as exc:
            if isinstance(exc, _STORE_ERRORS) or not drafts:
                raise
            if len(drafts) > 1:
                # Split until the rows the database refuses are found; the others land.
                half = len(drafts) // 2
                counts = self.write_prepared(
                    context, [*rejected, *drafts[:half]], run_id=run_id, document_sha256=document_sha256
                )
                counts.add(
                    self.write_prepared(
                        context, drafts[half:], run_id=run_id, document_sha256=document_sha256
                    )
                )
                return counts
            log.warning("the store refused %s: %s", drafts[0].locator, exc)
            refused = Rejected(drafts[0].locator, "ingest.store", _store_reason(exc), _draft_bytes(drafts[0]))
            return self._write_batch(context, [], [*rejected, refused], run_id, document_sha256)

    def _write_batch(
        self,
        context: SourceContext,
        drafts: Sequence[PostDraft],
        rejected: Sequence[Rejected],
        run_id: int | None,
        document_sha256: str | None,
    ) -> IngestCounts:
        with self.transaction() as session:
            outcomes = self.store(session, context, drafts, run_id=run_id, document_sha256=document_sha256)
            record_dead_letters(session, rejected, context.source_id, run_id)
            counts = tally(outcomes.values())
            counts.rejected = len(rejected)
            if run_id is not None:
                add_run_progress(session, run_id, counts)
        return counts

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction holding this writer's lock, for `store`. Should it not commit, the
        near-duplicate index, if it took posts that were not kept, is loaded afresh."""
        with self._lock:
            self._indexed = False
            self._inserted = False
            try:
                with self._factory() as session, session.begin():
                    yield session
            except BaseException:
                if self._indexed:
                    self._near = None
                raise
            if self._inserted and self.on_stored is not None:
                self.on_stored()  # committed: the new posts wait in the analysis queue

    def store(
        self,
        session: Session,
        context: SourceContext,
        drafts: Sequence[PostDraft],
        *,
        run_id: int | None = None,
        document_sha256: str | None = None,
        origins: dict[int, tuple[int, str]] | None = None,
    ) -> dict[int, str]:
        """Store drafts in `session` (one of `transaction`): exact duplicates become sightings,
        near-duplicates are linked. Returns each draft's outcome by `id(draft)`: "new",
        "duplicate" or "near_duplicate". With `origins` (`id(draft)` to run id and document),
        the drafts of several deliveries are stored together, each keeping its own."""
        fresh, sightings = self._dedup_exact(session, drafts)
        outcomes = dict.fromkeys(map(id, drafts), "duplicate")
        if fresh and self._near is None:
            self.near_index(session)  # load before this batch is inserted, or it finds itself
        inserted = self._insert(session, context, fresh, run_id, document_sha256, origins)
        # A fresh draft not inserted lost a race with another writer: a duplicate.
        self._indexed = True
        self._inserted = self._inserted or bool(inserted)
        linked = self._dedup_near(session, inserted)
        for post_id, draft in inserted:
            outcomes[id(draft)] = "near_duplicate" if post_id in linked else "new"
        firsts = self._record_sightings(session, context, sightings)
        ranked = [(post_id, d) for post_id, d in inserted if _hot_rank(d) is not None]
        ranked += [
            (firsts[first][0], d) for first, d in sightings if first in firsts and _hot_rank(d) is not None
        ]
        _record_hot_ranks(session, context, ranked)
        return outcomes

    def _dedup_exact(
        self, session: Session, drafts: Sequence[PostDraft]
    ) -> tuple[list[PostDraft], list[tuple[str, PostDraft]]]:
        """Stage ingest.dedup_exact: drafts not yet stored, and sightings (duplicate key, draft)."""
        by_url = _existing(session, Post.url_key, {d.url_key for d in drafts})
        by_content = _existing(session, Post.content_hash, {d.content_hash for d in drafts if d.content_hash})
        seen_urls: dict[str, str] = {}
        seen_content: dict[str, str] = {}
        fresh: list[PostDraft] = []
        sightings: list[tuple[str, PostDraft]] = []
        for draft in drafts:
            if draft.url_key in by_url:
                sightings.append((draft.url_key, draft))  # kept if it came from another source
                continue
            if draft.url_key in seen_urls:
                continue
            if draft.content_hash:
                first = by_content.get(draft.content_hash) or seen_content.get(draft.content_hash)
                if first is not None:
                    sightings.append((first, draft))
                    continue
                seen_content[draft.content_hash] = draft.url_key
            seen_urls[draft.url_key] = draft.url_key
            fresh.append(draft)
        return fresh, sightings

    def _insert(
        self,
        session: Session,
        context: SourceContext,
        drafts: Sequence[PostDraft],
        run_id: int | None,
        document_sha256: str | None,
        origins: dict[int, tuple[int, str]] | None = None,
    ) -> list[tuple[int, PostDraft]]:
        if not drafts:
            return []

        def origin(draft: PostDraft) -> tuple[int | None, str | None]:
            return origins[id(draft)] if origins is not None else (run_id, document_sha256)

        if session.get_bind().dialect.name == "sqlite":
            inserted = _insert_posts_sqlite(
                session, drafts, [(context.source_id, *origin(d)) for d in drafts]
            )
            if inserted == len(drafts):
                # No row was ignored, and this transaction holds SQLite's write lock: the rows got
                # consecutive rowids ending at the largest one, in input order.
                last = int(session.connection().exec_driver_sql("SELECT max(id) FROM posts").scalar_one())
                return list(zip(range(last - len(drafts) + 1, last + 1), drafts, strict=True))
        else:
            table = Post.__table__
            assert isinstance(table, Table)
            rows = []
            for draft in drafts:
                row = {name: getattr(draft, name) for name in _DRAFT_COLUMNS}
                draft_run, draft_document = origin(draft)
                row.update(
                    source_id=context.source_id,
                    fetch_run_id=draft_run,
                    raw_sha256=draft_document,
                    raw_ref=draft.locator,
                )
                rows.append(row)
            session.execute(insert_ignoring_conflicts(table, session.get_bind().dialect.name), rows)
        # The ids are read back by url_key (RETURNING row by row is several times slower). A row
        # that another writer stored first is not ours, and counts as a duplicate.
        runs = {origin(d)[0] for d in drafts} if origins is not None else {run_id}
        ids = _ids_by_url_key(session, [d.url_key for d in drafts], {r for r in runs if r is not None})
        return [(ids[d.url_key], d) for d in drafts if d.url_key in ids]

    def _dedup_near(self, session: Session, inserted: Sequence[tuple[int, PostDraft]]) -> set[int]:
        """Stage ingest.dedup_near: link each stored copy with small edits to its first copy;
        returns the ids of the posts linked."""
        with_text = [(post_id, draft) for post_id, draft in inserted if draft.text]
        if not with_text:
            return set()
        index = self.near_index(session)
        matches = index.query_and_add([p for p, _ in with_text], [d.text for _, d in with_text])
        links = [
            {"pid": post_id, "orig": match[0], "sim": float(match[1])}
            for (post_id, _), match in zip(with_text, matches, strict=True)
            if match is not None and match[0] != post_id
        ]
        if links:
            table = Post.__table__
            assert isinstance(table, Table)
            session.execute(
                update(table)
                .where(table.c.id == bindparam("pid"))
                .values(near_duplicate_of=bindparam("orig"), similarity=bindparam("sim")),
                links,
                execution_options={"synchronize_session": False},
            )
        return {int(link["pid"]) for link in links}

    def _record_sightings(
        self, session: Session, context: SourceContext, sightings: Sequence[tuple[str, PostDraft]]
    ) -> dict[str, tuple[int, int]]:
        """A duplicate from another URL or id is not stored again, but where it appeared is kept:
        the same content on several sites is what grading counts. Returns the first copies
        found: duplicate key -> (post id, source id)."""
        if not sightings:
            return {}
        # First copies inserted earlier in this transaction are found here too.
        firsts = _first_copies(session, {first for first, _ in sightings})
        rows = [
            {
                "post_id": firsts[first][0],
                "source_id": context.source_id,
                "url_key": draft.url_key,
                "url": draft.url,
                "seen_at": draft.fetched_at,
            }
            for first, draft in sightings
            # The same URL again from the same source is a refetch, not a sighting; from another
            # source (RSSHub and a webhook carrying one Weibo post) it is one.
            if first in firsts and (first != draft.url_key or firsts[first][1] != context.source_id)
        ]
        if rows:
            table = PostSighting.__table__
            assert isinstance(table, Table)
            session.execute(insert_ignoring_conflicts(table, session.get_bind().dialect.name), rows)
        return firsts


def _hot_rank(draft: PostDraft) -> int | None:
    """The draft's place on a hot list (connectors put it in ``extra``), if it came from one."""
    extra = draft.extra or {}
    rank, name = extra.get("hot_rank"), extra.get("hot_list")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1 or not isinstance(name, str):
        return None
    return rank


def _record_hot_ranks(
    session: Session, context: SourceContext, ranked: Sequence[tuple[int, PostDraft]]
) -> None:
    """Each reading of a hot list adds the place of every entry, new or already stored: the
    rank history of a post (a refetch is no sighting, but it is a new place on the list)."""
    rows = []
    for post_id, draft in ranked:
        extra = draft.extra or {}
        heat = extra.get("hot_heat")
        rows.append(
            {
                "post_id": post_id,
                "source_id": context.source_id,
                "list_name": str(extra["hot_list"])[:100],
                "rank": _hot_rank(draft),
                "heat": float(heat) if isinstance(heat, int | float) and not isinstance(heat, bool) else None,
                "seen_at": draft.fetched_at,
            }
        )
    if rows:
        session.execute(insert(HotListRank), rows)


def tally(outcomes: Iterable[str]) -> IngestCounts:
    """Counts of the outcomes `PostWriter.store` returns."""
    counts = IngestCounts()
    for outcome in outcomes:
        setattr(counts, outcome, getattr(counts, outcome) + 1)
    return counts


def _store_reason(exc: BaseException) -> str:
    detail = getattr(exc, "orig", None) or exc
    first = str(detail).strip().splitlines()[0] if str(detail).strip() else type(detail).__name__
    return f"数据库拒收这条记录：{first[:300]}"


def _draft_bytes(draft: PostDraft) -> bytes:
    """The refused post as it was to be stored, for the dead letter."""
    return record_bytes({name: getattr(draft, name) for name in _DRAFT_COLUMNS})


def _existing(session: Session, column: Any, keys: set[str]) -> dict[str, str]:
    """Map each key already stored in `column` to the first copy's url_key (or id for url_key)."""
    found: dict[str, str] = {}
    if not keys:
        return found
    ordered = sorted(keys)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        if column is Post.url_key:
            for key, post_id in session.execute(select(Post.url_key, Post.id).where(Post.url_key.in_(chunk))):
                found[key] = str(post_id)
        else:
            for key, url_key in session.execute(select(column, Post.url_key).where(column.in_(chunk))):
                found[key] = url_key
    return found


def _first_copies(session: Session, keys: set[str]) -> dict[str, tuple[int, int]]:
    """The stored post (id, source id) of each url_key."""
    found: dict[str, tuple[int, int]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        query = select(Post.url_key, Post.id, Post.source_id).where(Post.url_key.in_(chunk))
        rows = session.execute(query)
        found.update((key, (post_id, source_id)) for key, post_id, source_id in rows if key is not None)
    return found


def _ids_by_url_key(session: Session, keys: Sequence[str], runs: set[int]) -> dict[str, int]:
    """Ids of the posts just inserted, by url_key (only those of these runs when there are any)."""
    found: dict[str, int] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        query = select(Post.url_key, Post.id).where(Post.url_key.in_(chunk))
        if runs:
            query = query.where(Post.fetch_run_id.in_(sorted(runs)))
        found.update((key, post_id) for key, post_id in session.execute(query) if key is not None)
    return found


_draft_values = operator.attrgetter(*_DRAFT_COLUMNS)
_FETCHED_AT = _DRAFT_COLUMNS.index("fetched_at")
_PUBLISHED_AT = _DRAFT_COLUMNS.index("published_at")
_EXTRA = _DRAFT_COLUMNS.index("extra")


def _sqlite_time(value: dt.datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime reads back (UTCDateTime stores naive UTC).
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


_SQLITE_COLUMNS = (*_DRAFT_COLUMNS, "source_id", "fetch_run_id", "raw_sha256", "raw_ref")
_SQLITE_INSERT = "INSERT OR IGNORE INTO posts ({}) VALUES ({})".format(
    ", ".join(_SQLITE_COLUMNS), ", ".join("?" * len(_SQLITE_COLUMNS))
)


def _insert_posts_sqlite(
    session: Session, drafts: Sequence[PostDraft], extras: Sequence[tuple[int, int | None, str | None]]
) -> int:
    """The bulk path for the embedded default: one executemany on the DB-API cursor, with values
    converted the way the column types store them (naive UTC text times, JSON text). Returns
    how many rows were inserted."""
    rows: list[tuple[Any, ...]] = []
    fetched: dict[dt.datetime, str] = {}  # fetched_at is the same for a whole batch
    for draft, extra in zip(drafts, extras, strict=True):
        values = list(_draft_values(draft))
        when = draft.fetched_at
        text = fetched.get(when)
        if text is None:
            text = fetched[when] = _sqlite_time(when)
        values[_FETCHED_AT] = text
        if draft.published_at is not None:
            values[_PUBLISHED_AT] = _sqlite_time(draft.published_at)
        if draft.extra is not None:
            values[_EXTRA] = orjson.dumps(draft.extra).decode()
        values.extend(extra)
        values.append(draft.locator)
        rows.append(tuple(values))
    return int(session.connection().exec_driver_sql(_SQLITE_INSERT, rows).rowcount)
