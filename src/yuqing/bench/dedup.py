"""`yuqing bench dedup`: near-duplicate detection measured on real Weibo posts (the CED originals).

Copies of real posts are made with the edits typical of reposting; each method indexes the
originals and is asked to find the copies (recall) and to leave distinct real posts alone
(precision). SimHash at Hamming distance 3 is the named baseline.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from yuqing.ingest.neardup import evaluate, format_table


def load_texts(path: Path, limit: int = 50_000) -> list[str]:
    """Texts of originals and of reposts that add their own words, in file order, each once."""
    seen: dict[str, None] = {}
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for line in handle:
            row = orjson.loads(line)
            text = (row.get("text") or "").strip()
            if text and row.get("kind") == "original":
                seen.setdefault(text, None)
            if len(seen) >= limit:
                break
    return list(seen)


def run(path: Path, *, pairs: int) -> str:
    texts = load_texts(path)
    rows = evaluate(texts, n_pairs=pairs)
    return (
        f"yuqing bench dedup — {len(texts):,} distinct real Weibo originals from {path.name}\n\n"
        + format_table(rows)
    )
