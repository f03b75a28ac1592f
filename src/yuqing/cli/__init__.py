"""The `yuqing` command line: thin commands that call domain services."""

from yuqing.cli.main import app, main

__all__ = ["app", "main"]
