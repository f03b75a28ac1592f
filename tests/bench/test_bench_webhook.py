"""`yuqing bench webhook` at a small size: every phase stores its posts, the pipeline analyses all."""

from __future__ import annotations

from pathlib import Path

import pytest

from yuqing.bench import webhook
from yuqing.demo import find_ced_file


def test_bench_webhook_small(monkeypatch: pytest.MonkeyPatch) -> None:
    ced = find_ced_file()
    if ced is None:
        pytest.skip("ced_dev.jsonl.gz not available")
    table = webhook.run(Path(ced), single=40, batched=300, offered_seconds=0.2)
    lines = table.splitlines()
    rows = {line.split("  ")[0].strip(): line for line in lines[3:]}
    assert len(rows) == 6
    assert any(name.startswith("single post") for name in rows)
    assert any(name.startswith("pipeline: all analysed") for name in rows)
    assert any(name.startswith("baseline: in-process receive_webhook") for name in rows)
    for line in lines[3:]:
        assert line.rstrip().endswith(" 0")  # no request failed
    pipeline = next(line for name, line in rows.items() if name.startswith("pipeline"))
    assert " 740 " in pipeline  # 40 + 300 + 2 × 200 posts, all analysed
