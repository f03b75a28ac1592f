"""Install yuqing with plain pip into a clean virtual environment and use it (issue 15, packaging).

    python3 scripts/check_pip_install.py [--pip VERSION]

Builds the wheel (uv build), makes a fresh venv with the pip this Python ships (or the version
given, e.g. 23.2.1 or "latest"), installs the wheel from the package index (not through our lock:
this is what an office's IT person does), then, with that install only: fetches an RSS feed whose
items carry HTML descriptions and a GB18030 web page from a local HTTP server, and checks that
both became posts with their Chinese text intact. Needs the package index; takes a few minutes;
not part of the test suite for that reason.
"""

# ruff: noqa: S603, S607  (a developer script running pip, uv and the installed yuqing)
from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>市政新闻</title><link>http://127.0.0.1/</link>
<item><title>市卫健委通报某医院医疗纠纷处置情况</title><link>http://127.0.0.1/news/1</link>
<description><![CDATA[<p>市卫健委<b>今日通报</b>：某医院医疗纠纷已成立调查组。</p><script>x()</script>]]></description>
<pubDate>Fri, 04 Dec 2026 09:00:00 +0800</pubDate></item>
</channel></rss>""".encode()
PAGE = """<!doctype html><html><head><meta charset="gb18030"><title>区教育局回应校园餐质量问题</title></head>
<body><article><h1>区教育局回应校园餐质量问题</h1>
<p>近日，有家长反映某小学校园餐质量不佳。区教育局高度重视，已会同市场监管部门进入学校调查，
对食堂进行全面检查，并将在三个工作日内公布调查结果。家长代表将参与后续监督。</p>
<p>区教育局表示，将以此为契机，进一步完善校园食品安全管理制度，确保学生吃得安全、吃得放心。</p>
</article></body></html>""".encode("gb18030")


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body, kind = (FEED, "application/rss+xml") if self.path == "/feed.xml" else (PAGE, "text/html")
        self.send_response(200)
        self.send_header("Content-Type", kind)  # the page's charset is only in its <meta>
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pip", help="pip version to use (default: the one this Python ships)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yuqing-pip-") as tmp:
        folder = Path(tmp)
        subprocess.run(["uv", "build", "--wheel", "--out-dir", str(folder), str(ROOT)], check=True)
        (wheel,) = folder.glob("yuqing-*.whl")
        venv = folder / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        if args.pip:
            spec = "pip" if args.pip == "latest" else f"pip=={args.pip}"
            subprocess.run([python, "-m", "pip", "install", "-q", "-U", spec], check=True)
        version = subprocess.run(
            [python, "-m", "pip", "--version"], capture_output=True, text=True, check=True
        )
        print(version.stdout.strip())
        subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")}
        env |= {
            "YUQING_DATABASE_URL": f"sqlite:///{folder}/check.db",
            "YUQING_ALLOW_PRIVATE_ADDRESSES": "true",
            "YUQING_DATA_DIR": str(folder / "data"),
        }

        def yuqing(*argv: str) -> str:
            done = subprocess.run(
                [python, "-m", "yuqing", *argv], env=env, cwd=folder, capture_output=True, text=True
            )
            if done.returncode != 0:
                raise SystemExit(f"yuqing {' '.join(argv)} failed:\n{done.stderr}")
            return done.stdout

        yuqing("sources", "add", "rss", f"{base}/feed.xml", "--name", "市政新闻")
        yuqing("sources", "add", "web", f"{base}/page.html", "--name", "区教育局")
        print(yuqing("fetch", "--once"))
        posts = json.loads(yuqing("posts", "list", "--json"))
        server.shutdown()
    texts = " ".join(f"{p.get('title') or ''} {p.get('text') or ''}" for p in posts)
    checks = {
        "RSS 条目（描述为 HTML）": "医疗纠纷已成立调查组" in texts and "<b>" not in texts,
        "GB18030 编码的网页": "校园餐质量" in texts and "三个工作日内" in texts,
    }
    for name, ok in checks.items():
        print(f"{'通过' if ok else '失败'}：{name}")
    shutil.rmtree(folder, ignore_errors=True)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
