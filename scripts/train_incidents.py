"""Train the shipped incident model from ``../shared/data/incidents/ced_incidents_dev.jsonl``.

Run from the repository root::

    .venv/bin/python scripts/train_incidents.py [SHARED_DATA_DIR] [--out PATH] [--folds 5]

Needs the ``train`` dependency group (scikit-learn); the runtime model needs only numpy.

1. Reads the 1,056 labelled posts and the unlabelled CED originals
   (``events/ced_dev.jsonl.gz``, ``kind == "original"``); the originals give the IDF of each
   n-gram bucket (folded into the stored weights).
2. Cross-validates (5 folds by the MD5 of the id, :mod:`yuqing.analysis.incidents_eval`):
   each fold's model is fitted on the other four — thresholds included — and predicts the
   held-out fold through the runtime code. Prints P/R/F1 per flag, domain accuracy and the
   sensitivity lexicon's figures beside them.
3. Fits the shipped model on all rows with the same hyper-parameters and writes
   ``src/yuqing/analysis/models/incidents.npz`` (with its JSON metadata inside and a readable
   copy beside it as ``incidents.json``), then loads it back and measures posts/s.
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


def ced_originals(path: Path) -> list[str]:
    """Texts of the original posts of the CED file (unlabelled)."""
    texts: list[str] = []
    with gzip.open(path, "rb") as handle:
        for line in handle:
            if b'"original"' not in line:
                continue
            row = orjson.loads(line)
            if row.get("kind") == "original" and row.get("text"):
                texts.append(str(row["text"]))
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
    args = parser.parse_args(argv)
    labelled_path = args.data / "incidents" / "ced_incidents_dev.jsonl"
    ced_path = args.data / "events" / "ced_dev.jsonl.gz"
    for path in (labelled_path, ced_path):
        if not path.is_file():
            print(f"missing {path}", file=sys.stderr)
            return 2
    rows = ev.read_labelled(labelled_path)
    params = ev.Params()
    idf = ev.idf_weights(ced_originals(ced_path), FeatureSpec(bits=params.bits, orders=params.orders))
    print(f"{len(rows)} labelled posts; {params}")

    start = time.perf_counter()
    predictions = ev.cross_validate(rows, params, idf, k=args.folds)
    cv = ev.score(predictions, rows)
    lexicon = ev.score(ev.lexicon_predictions(rows), rows)
    print(f"\n{args.folds}-fold cross-validated dev figures ({time.perf_counter() - start:.0f} s):")
    print(table(cv, lexicon))

    trained = ev.fit(rows, params, idf)
    figures = {
        h: {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3)}
        for h, (p, r, f) in cv.flags.items()
    }
    meta = ev.save(
        trained,
        args.out,
        extra={
            "trained_on": labelled_path.name,
            "rows": len(rows),
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
