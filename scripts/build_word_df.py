"""Build the background word document frequencies of everyday Weibo that the event clusterer uses.

Run from the repository root::

    .venv/bin/python scripts/build_word_df.py [SHARED_DATA_DIR] [--out PATH] [--min-df 20]

Reads the Weibo training texts of ``sentiment/weibo_senti_train.jsonl`` and
``sentiment/smp2020_ewect_train.jsonl`` (51,033 posts of everyday Weibo; no CED text, so the
event streams built from CED stay unseen), splits them with the clusterer's own ``tokens`` and
writes ``src/yuqing/analysis/models/word_df.json.gz``: ``{"docs": N, "df": {word: posts}}`` for the
words in at least ``--min-df`` posts, with the sources' SHA-256.  A word that common in everyday
posts (中国, 真是, 可能, 问题) is never specific evidence of one story, even at the start of a
stream, when every word of a topic is still rare in it.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

from yuqing.analysis.clustering import tokens

SOURCES = ("sentiment/weibo_senti_train.jsonl", "sentiment/smp2020_ewect_train.jsonl")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/yuqing/analysis/models/word_df.json.gz"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--min-df", type=int, default=20)
    args = parser.parse_args(argv)
    df: Counter[str] = Counter()
    docs = 0
    hashes: dict[str, str] = {}
    for name in SOURCES:
        raw = (Path(args.data) / name).read_bytes()
        hashes[name] = hashlib.sha256(raw).hexdigest()
        for line in raw.decode("utf-8").splitlines():
            if not line.strip():
                continue
            text = json.loads(line).get("text")
            if isinstance(text, str) and text.strip():
                df.update(set(tokens(text)))
                docs += 1
    kept = {w: n for w, n in sorted(df.items(), key=lambda kv: (-kv[1], kv[0])) if n >= args.min_df}
    body = {"docs": docs, "min_df": args.min_df, "sources": hashes, "df": kept}
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    Path(args.out).write_bytes(gzip.compress(data, mtime=0))
    summary = f"{docs} posts, {len(df)} words, {len(kept)} kept (df >= {args.min_df}) -> {args.out}"
    print(summary, file=sys.stderr)


if __name__ == "__main__":
    main()
