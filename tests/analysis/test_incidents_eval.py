"""Extra training labels: texts joined from the sentiment corpora, and which heads they train."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from yuqing.analysis import incidents_eval as ev


def test_corpus_posts_are_joined_by_line_and_train_only_the_public_safety_head(tmp_path: Path) -> None:
    (tmp_path / "sentiment").mkdir()
    corpus = ["今天天气不错", "某市化工厂发生爆炸，附近居民紧急疏散", "累死了"]
    (tmp_path / "sentiment" / "smp2020_ewect_train.jsonl").write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in corpus), encoding="utf-8"
    )
    labels = tmp_path / "extra.jsonl"
    rows = [
        {"id": "smp2020_ewect_train.jsonl:1", "incident": True, "casualties": False, "public_safety": True},
        {"id": "3586_ye1ec8KUC_1256280295", "incident": False, "casualties": False, "public_safety": False},
        # a line the corpus does not have: skipped, not an error
        {"id": "smp2020_ewect_train.jsonl:9", "incident": True, "casualties": True, "public_safety": True},
    ]
    labels.write_text("".join(json.dumps({**r, "domain": "other"}) + "\n" for r in rows), encoding="utf-8")

    texts = ev.corpus_texts(tmp_path, [labels])
    assert texts == {"smp2020_ewect_train.jsonl:1": corpus[1]}
    extra = ev.read_extra(labels, {**texts, "3586_ye1ec8KUC_1256280295": "原帖"})
    assert [(r.id, r.text, r.in_domain) for r in extra] == [
        ("smp2020_ewect_train.jsonl:1", corpus[1], False),
        ("3586_ye1ec8KUC_1256280295", "原帖", True),
    ]

    in_domain = np.array([r.in_domain for r in extra])
    assert ev._head_weight(np.array([True, True]), "incident") is None
    assert ev._head_weight(in_domain, "public_safety").tolist() == [ev.OUT_OF_DOMAIN_WEIGHT, 1.0]
    for head in ("incident", "casualties", "domain:medical"):
        assert ev._head_weight(in_domain, head).tolist() == [0.0, 1.0]


def test_public_safety_cuts_let_a_confident_threat_through_below_the_incident_cut() -> None:
    # Two public threats told in few words score low as incidents (0.2, 0.25) but high for
    # public safety; a low incident gate of 0.15 takes both, at no false alarm.
    incident = np.array([0.9, 0.8, 0.2, 0.25, 0.1, 0.9], dtype=np.float32)
    public_safety = np.array([0.9, 0.8, 0.7, 0.75, 0.2, 0.1], dtype=np.float32)
    y = np.array([True, True, True, True, False, False])
    low, cut = ev._public_safety_cuts(incident, public_safety, y, (0.5, 0.15, 0.3), 0.5)
    assert low == 0.15 and 0.2 < cut < 0.7
    # Nothing to gain below the incident cut: the incident cut, listed first as fit() does, stays.
    low, _ = ev._public_safety_cuts(incident, public_safety, y & (incident >= 0.5), (0.5, 0.15, 0.3), 0.5)
    assert low == 0.5
