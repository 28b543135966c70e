"""Click's own lines in Chinese: ``用法：``, ``错误：``, the help hint, and the messages of its
usage errors (a missing option, a bad value, an unknown command), so that a user of the
command line meets no English besides option names.

Click formats these itself in ``Command.main`` (standalone mode); :class:`ChineseGroup` runs
click in non-standalone mode and reports the exceptions here instead."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

HEADINGS = {"Options": "选项", "Commands": "命令", "Arguments": "参数"}
HELP_TEXTS = {"Show this message and exit.": "显示本帮助并退出。"}

# English message → Chinese, tried in order on the whole message (click's own wording, 8.1-8.5).
MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"^Missing option '(.+?)'\.?", r"缺少选项 \1。"),
        (r"^Missing argument '(.+?)'\.?", r"缺少参数 \1。"),
        (r"^Missing parameter:? ?'?([^'.]*)'?\.?", r"缺少参数 \1。"),
        (r"^No such option: (\S+)", r"没有选项 \1"),
        (r"^No such option '(.+?)'\.", r"没有选项 \1。"),
        (r"Did you mean (.+?)\?", r"是否要用 \1？"),
        (r"\(Possible options: (.+)\)", r"（可能的选项：\1）"),
        (r"^No such command '(.+?)'\.", r"没有命令 \1。"),
        (r"^Missing command\.", "缺少子命令。"),
        (r"^Got unexpected extra arguments? \((.+)\)", r"多余的参数：\1"),
        (r"^Option '(.+?)' requires an argument\.", r"选项 \1 需要一个值。"),
        (r"^Option '(.+?)' requires (\d+) arguments\.", r"选项 \1 需要 \2 个值。"),
        (r"^Option '(.+?)' does not take a value\.", r"选项 \1 不带值。"),
        (r"^Invalid value for (.+?): ", r"\1 的值无效："),
        (r"(\S+) is not one of (.+)\.$", r"\1 不是可选值 \2 之一。"),
        (r"(\S+) is not (\S+)\.$", r"\1 不是 \2。"),
        (r"(\S+) is not a valid integer( range)?\.", r"\1 不是整数。"),
        (r"(\S+) is not a valid float( range)?\.", r"\1 不是数字。"),
        (r"(\S+) is not a valid boolean\.", r"\1 不是 true/false。"),
        (r"(\S+) does not match the formats? (.+)\.", r"\1 不符合格式 \2。"),
        (r"(\S+) is not in the range (.+)\.", r"\1 不在范围 \2 内。"),
        (r"(?:File|Directory|Path) (\S+) does not exist\.", r"\1 不存在。"),
        (r"(?:File|Directory|Path) (\S+) is a directory\.", r"\1 是目录，不是文件。"),
        (r"(?:File|Directory|Path) (\S+) is a file\.", r"\1 是文件，不是目录。"),
        (r"(?:File|Directory|Path) (\S+) is not (?:readable|writable)\.", r"\1 没有读写权限。"),
    )
)


def translate(message: str) -> str:
    """Click's English wording of ``message`` in Chinese (our own messages pass unchanged)."""
    for pattern, replacement in MESSAGES:
        message = pattern.sub(replacement, message)
    return message


class ChineseFormatter(click.HelpFormatter):
    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix="用法：" if prefix is None else prefix)

    def write_dl(self, rows, *args: Any, **kwargs: Any) -> None:
        # The help option's own line is click's; the others are ours, already Chinese.
        rows = [(term, HELP_TEXTS.get(text, text)) for term, text in rows]
        super().write_dl(rows, *args, **kwargs)

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{HEADINGS.get(heading, heading)}：\n")


class ChineseContext(click.Context):
    formatter_class = ChineseFormatter


def show(exc: click.ClickException) -> None:
    """Report ``exc`` as click would, in Chinese, on stderr."""
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        ctx = exc.ctx
        lines = [ctx.get_usage()]
        if ctx.command.get_help_option(ctx) is not None:
            lines.append(f"运行 {ctx.command_path} {ctx.help_option_names[0]} 查看帮助。")
        click.echo("\n".join(lines) + "\n", err=True)
    click.echo(f"错误：{translate(exc.format_message())}", err=True)


class ChineseGroup(click.Group):
    context_class = ChineseContext

    def main(self, args: Any = None, prog_name: str | None = None, *rest: Any, **extra: Any) -> Any:
        if extra.get("standalone_mode", True) is False:
            return super().main(args, prog_name, *rest, **extra)
        extra["standalone_mode"] = False
        try:
            result = super().main(args, prog_name, *rest, **extra)
        except click.ClickException as exc:
            show(exc)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("已中止。", err=True)
            sys.exit(1)
        # Non-standalone click returns ctx.exit()'s code (our commands return nothing else).
        sys.exit(result if isinstance(result, int) else 0)


def localise(command: click.Command) -> None:
    """Give ``command`` and every subcommand the Chinese help formatter."""
    command.context_class = ChineseContext
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            localise(sub)
