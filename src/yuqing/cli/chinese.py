"""Typer's own words in the help pages, in Chinese: the panel titles, "[default: …]", "[required]",
the usage line's prefix and the `--help` option's "Show this message and exit." (users read
Chinese; the help of our commands and options is written in Chinese where they are defined).

These are module-level strings of typer (`typer.rich_utils`) and of the click copy it ships
(`typer._click`); a typer version that moves them leaves the English words, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HELP_OPTION = "显示本帮助并退出。"
USAGE = "用法："


def localise() -> None:
    try:
        from typer import rich_utils

        rich_utils.ARGUMENTS_PANEL_TITLE = "参数"
        rich_utils.OPTIONS_PANEL_TITLE = "选项"
        rich_utils.COMMANDS_PANEL_TITLE = "命令"
        rich_utils.ERRORS_PANEL_TITLE = "错误"
        rich_utils.ABORTED_TEXT = "已中止。"
        rich_utils.DEFAULT_STRING = "[默认：{}]"
        rich_utils.REQUIRED_LONG_STRING = "[必填]"
        rich_utils.DEPRECATED_STRING = "（已弃用）"
        rich_utils.RICH_HELP = "可用 [blue]'{command_path} {help_option}'[/] 查看帮助。"
        _localise_help_option()
        _localise_usage()
    except (ImportError, AttributeError):  # another typer: its English words stay
        pass


def _localise_help_option() -> None:
    from typer._click import decorators

    original: Callable[[list[str]], Callable[[Any], Any]] = decorators.help_option
    if getattr(original, "_yuqing", False):
        return

    def help_option(param_decls: list[str]) -> Callable[[Any], Any]:
        decorate = original(param_decls)

        def apply(command: Any) -> Any:
            result = decorate(command)
            command.params[-1].help = HELP_OPTION
            return result

        return apply

    help_option._yuqing = True  # type: ignore[attr-defined]
    decorators.help_option = help_option


def _localise_usage() -> None:
    from typer._click.formatting import HelpFormatter

    original = HelpFormatter.write_usage
    if getattr(original, "_yuqing", False):
        return

    def write_usage(self: HelpFormatter, prog: str, args: str = "", prefix: str | None = None) -> None:
        original(self, prog, args, USAGE if prefix is None else prefix)

    write_usage._yuqing = True  # type: ignore[attr-defined]
    HelpFormatter.write_usage = write_usage  # type: ignore[method-assign]
