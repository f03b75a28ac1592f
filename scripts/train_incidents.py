"""Train the shipped incident model from ``../shared/data/incidents/ced_incidents_dev.jsonl`` and
the extra labels of ``scripts/data/ced_incidents_extra.jsonl``.

Run from the repository root::

    .venv/bin/python scripts/train_incidents.py [SHARED_DATA_DIR] [--out PATH] [--folds 5]
        [--extra PATH | --no-extra] [--compare]

Needs the ``train`` dependency group (scikit-learn); the runtime model needs only numpy.

1. Reads the 1,056 labelled posts and the CED originals (``events/ced_dev.jsonl.gz``,
   ``kind == "original"``); the originals give the IDF of each n-gram bucket (folded into the
   stored weights) and the texts of the 637 extra labelled posts (stored as ids and labels only,
   see ``scripts/data/README.md``).
2. Cross-validates (5 folds by the MD5 of the id, :mod:`yuqing.analysis.incidents_eval`):
   each fold's model is fitted on the other four plus all extra labels — thresholds included —
   and predicts the held-out fold through the runtime code. Only the official posts are scored.
   Prints P/R/F1 per flag, domain accuracy and the sensitivity lexicon's figures beside them;
   ``--compare`` first prints the same folds without the extra labels.
3. Fits the shipped model on all official and extra rows with the same hyper-parameters and
   writes ``src/yuqing/analysis/models/incidents.npz`` (with its JSON metadata inside and a
   readable copy beside it as ``incidents.json``), then loads it back and measures posts/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import orjson

from yuqing.analysis import incidents_eval as ev
from yuqing.analysis.features import FeatureSpec
from yuqing.analysis.incidents import IncidentModel

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "yuqing" / "analysis" / "models" / "incidents.npz"
# The labelled Weibo posts of the sentiment corpora (``scripts/data/weibo_incidents_extra.jsonl``)
# are not in the shipped model (see scripts/data/README.md); name both files with ``--extra`` to
# train the model they give.
DEFAULT_EXTRA = (REPO / "scripts" / "data" / "ced_incidents_extra.jsonl",)


def ced_originals(path: Path) -> dict[str, str]:
    """Texts of the original posts of the CED file by id (unlabelled)."""
    texts: dict[str, str] = {}
    with gzip.open(path, "rb") as handle:
        for line in handle:
            if b'"original"' not in line:
                continue
            row = orjson.loads(line)
            if row.get("kind") == "original" and row.get("text"):
                texts[str(row["id"])] = str(row["text"])
    return texts


def table(model: ev.Scores, lexicon: ev.Scores) -> str:
    lines = [f"{'':16}{'model P/R/F1':>22}{'lexicon P/R/F1':>24}"]
    for flag in ("incident", "casualties", "public_safety"):
        m, b = model.flags[flag], lexicon.flags[flag]
        lines.append(f"{flag:16}{m[0]:>8.3f}{m[1]:>7.3f}{m[2]:>7.3f}{b[0]:>10.3f}{b[1]:>7.3f}{b[2]:>7.3f}")
    lines.append(f"{'domain accuracy':16}{model.domain_accuracy:>22.3f}{lexicon.domain_accuracy:>24.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA, help="shared data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--extra",
        type=Path,
        action="append",
        help="extra labels (ids only), training part only; repeatable (default: the CED extra labels)",
    )
    parser.add_argument("--no-extra", action="store_true", help="train on the official labels alone")
    parser.add_argument(
        "--compare", action="store_true", help="also cross-validate without the extra labels (same folds)"
    )
    args = parser.parse_args(argv)
    labelled_path = args.data / "incidents" / "ced_incidents_dev.jsonl"
    ced_path = args.data / "events" / "ced_dev.jsonl.gz"
    for path in (labelled_path, ced_path):
        if not path.is_file():
            print(f"missing {path}", file=sys.stderr)
            return 2
    rows = ev.read_labelled(labelled_path)
    params = ev.Params()
    originals = ced_originals(ced_path)
    idf = ev.idf_weights(list(originals.values()), FeatureSpec(bits=params.bits, orders=params.orders))
    labelled_ids = {r.id for r in rows}
    extra_files = [] if args.no_extra else [p for p in (args.extra or DEFAULT_EXTRA) if p.is_file()]
    texts = {**originals, **ev.corpus_texts(args.data, extra_files)}
    extra = [
        r for path in extra_files for r in ev.read_extra(path, texts) if r.id not in labelled_ids
    ]
    print(f"{len(rows)} labelled posts + {len(extra)} extra (training only); {params}")

    lexicon = ev.score(ev.lexicon_predictions(rows), rows)
    if args.compare and extra:
        start = time.perf_counter()
        old = ev.score(ev.cross_validate(rows, params, idf, k=args.folds), rows)
        print(f"\nwithout the extra labels ({time.perf_counter() - start:.0f} s):")
        print(table(old, lexicon))
    start = time.perf_counter()
    predictions = ev.cross_validate(rows, params, idf, k=args.folds, extra=extra)
    cv = ev.score(predictions, rows)
    print(
        f"\n{args.folds}-fold cross-validated dev figures on the {len(rows)} official posts"
        f" ({time.perf_counter() - start:.0f} s):"
    )
    print(table(cv, lexicon))

    trained = ev.fit([*rows, *extra], params, idf)
    figures = {
        h: {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3)}
        for h, (p, r, f) in cv.flags.items()
    }
    meta = ev.save(
        trained,
        args.out,
        extra={
            "trained_on": [labelled_path.name, *(path.name for path in extra_files)],
            "rows": len(rows),
            "extra_rows": len(extra),
            "cross_validated": {
                **figures,
                "domain_accuracy": round(cv.domain_accuracy, 3),
                "folds": args.folds,
            },
        },
    )
    args.out.with_suffix(".json").write_text(
        json.dumps({k: v for k, v in meta.items() if k != "stacked"}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    print(f"\nthresholds {meta['thresholds']}")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")

    start = time.perf_counter()
    model = IncidentModel.load(args.out)
    load_seconds = time.perf_counter() - start
    texts = [r.text for r in rows] * 20
    start = time.perf_counter()
    model.predict(texts)
    seconds = time.perf_counter() - start
    print(f"loaded in {load_seconds:.2f} s; {len(texts) / seconds:,.0f} posts/s on {len(texts):,} posts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
