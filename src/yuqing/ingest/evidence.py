"""Evidence packages: what was online, where and when, with SHA-256 proof.

A package is a zip holding, for each post, its metadata and its raw bytes as fetched (the item's
own bytes, and the whole document it came from), and a manifest with the SHA-256 of every file.
`verify_package` recomputes them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing import __version__
from yuqing.ingest.connectors.base import ConnectorError
from yuqing.ingest.decoding import decode_document
from yuqing.ingest.errors import IngestError, PostNotFound
from yuqing.ingest.fetcher import charset_of
from yuqing.ingest.files import FORMATS, read_rows
from yuqing.ingest.jsonstream import json_records
from yuqing.ingest.models import EvidenceBlob, FetchRun, Post, Source
from yuqing.ingest.queries import iso, post_view
from yuqing.ingest.records import RawItem, Rejected
from yuqing.ingest.service import webhook_json_bytes
from yuqing.runtime import Runtime

MANIFEST = "manifest.json"
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
_EXTENSIONS = {
    "xml": ".xml",
    "rss": ".xml",
    "atom": ".xml",
    "html": ".html",
    "json": ".json",
    "import/jsonl": ".jsonl",
    "import/json": ".json",
    "import/csv": ".csv",
    "import/xlsx": ".xlsx",
}


class EvidenceError(IngestError):
    """An evidence package that cannot be written or does not verify."""


def export_evidence(rt: Runtime, post_ids: list[int], path: Path) -> dict[str, Any]:
    """Write the package for these posts to `path` and return its manifest."""
    files: dict[str, bytes] = {}
    posts_meta: list[dict[str, Any]] = []
    with rt.sessions() as session:
        for post_id in post_ids:
            post = session.get(Post, post_id)
            if post is None:
                raise PostNotFound(post_id)
            source = session.get(Source, post.source_id)
            run = session.get(FetchRun, post.fetch_run_id) if post.fetch_run_id else None
            blob = session.get(EvidenceBlob, post.raw_sha256) if post.raw_sha256 else None
            entry: dict[str, Any] = {"post_id": post.id, "files": []}
            meta = post_view(post, rt.settings, full=True)
            meta["source"] = (
                {
                    "id": source.id,
                    "name": source.name,
                    "kind": source.kind,
                    "url": source.url,
                    "platform": source.platform,
                    "media_tier": source.media_tier,
                }
                if source
                else None
            )
            meta["fetch_run"] = (
                {
                    "id": run.id,
                    "started_at": iso(run.started_at, rt.settings),
                    "finished_at": iso(run.finished_at, rt.settings),
                }
                if run
                else None
            )
            files[f"posts/{post.id}/metadata.json"] = orjson.dumps(meta, option=orjson.OPT_INDENT_2)
            entry["files"].append(f"posts/{post.id}/metadata.json")
            if blob is not None:
                meta["document"] = {
                    "sha256": blob.sha256,
                    "size": blob.size,
                    "media_type": blob.media_type,
                    "origin": blob.origin,
                    "fetched_at": iso(blob.fetched_at, rt.settings),
                }
                item_raw = _item_bytes(session, blob, post, source)
                if item_raw is not None:
                    name = f"posts/{post.id}/item.raw"
                    files[name] = item_raw
                    entry["files"].append(name)
                    if post.item_sha256 and hashlib.sha256(item_raw).hexdigest() != post.item_sha256:
                        raise EvidenceError(f"信息 {post.id} 的原始内容与入库时的 SHA-256 不一致")
                if blob.size <= MAX_DOCUMENT_BYTES:
                    name = f"documents/{blob.sha256}{_EXTENSIONS.get(blob.media_type or '', '.bin')}"
                    files[name] = blob.data
                    entry["files"].append(name)
                else:
                    entry["document_omitted"] = f"文档 {blob.size} 字节，超过打包上限，按 SHA-256 在库中保存"
                files[f"posts/{post.id}/metadata.json"] = orjson.dumps(meta, option=orjson.OPT_INDENT_2)
            posts_meta.append(entry)
    manifest = {
        "generator": f"yuqing {__version__}",
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "algorithm": "SHA-256",
        "posts": posts_meta,
        "files": [
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in sorted(files.items())
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted(files.items()):
            archive.writestr(name, data)
        archive.writestr(MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return manifest


def verify_package(path: Path) -> list[str]:
    """Problems found in a package (an empty list means every file matches its SHA-256)."""
    problems: list[str] = []
    with zipfile.ZipFile(path) as archive:
        try:
            manifest = orjson.loads(archive.read(MANIFEST))
        except KeyError:
            return ["缺少 manifest.json"]
        names = set(archive.namelist()) - {MANIFEST}
        for entry in manifest["files"]:
            name = entry["path"]
            if name not in names:
                problems.append(f"缺少文件 {name}")
                continue
            names.discard(name)
            digest = hashlib.sha256(archive.read(name)).hexdigest()
            if digest != entry["sha256"]:
                problems.append(f"{name} 的 SHA-256 不符：应为 {entry['sha256']}，实为 {digest}")
        problems.extend(f"清单中没有的文件 {name}" for name in sorted(names))
    return problems


def _item_bytes(session: Session, blob: EvidenceBlob, post: Post, source: Source | None) -> bytes | None:
    """The post's own bytes inside its document, found again by its locator, read the way they
    were read when the post was stored."""
    locator = post.raw_ref or ""
    media = blob.media_type or ""
    rows: Iterator[RawItem | Rejected]
    try:
        if media.startswith("import/") and media[7:] in FORMATS:
            rows = read_rows(blob.data, media[7:])  # type: ignore[arg-type]
        elif locator.startswith("item=") and (
            media.endswith("json") or (source and source.kind in ("api", "webhook"))
        ):
            data = blob.data
            if source is not None and source.kind == "api":  # the API connector decodes first,
                # with the charset its response declared (kept in the document's media type)
                data = decode_document(data, charset_of(blob.media_type), kind="text").text.encode("utf-8")
            elif source is not None and source.kind == "webhook":
                data = webhook_json_bytes(data, blob.media_type)
            rows = json_records(data, (source.config or {}).get("items_path") if source else None)
        elif locator == "page":
            return blob.data
        elif locator.startswith("link=") and post.item_sha256:
            # an article a listing page linked to: its page is a document of its own
            article = session.get(EvidenceBlob, post.item_sha256)
            return article.data if article is not None else None
        else:
            return None
        for row in rows:
            if isinstance(row, RawItem | Rejected) and row.locator == locator:
                return row.raw
    except (ConnectorError, IngestError):
        return None
    return None


def post_ids_for_source(rt: Runtime, source_id: int) -> list[int]:
    with rt.sessions() as session:
        return list(session.scalars(select(Post.id).where(Post.source_id == source_id).order_by(Post.id)))
