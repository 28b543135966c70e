"""``banzhuren wechat menu``: set the official account's custom menu."""

from __future__ import annotations

import json

import click

from bot.cli.common import CliContext, fail, pass_cli
from core.wechat.menu import menu_definition, menu_problems, menu_summary


@click.group("wechat")
def wechat_group() -> None:
    """微信公众号设置。"""


@wechat_group.command("menu")
@click.option("--show", is_flag=True, help="只显示菜单定义，不提交给微信")
@pass_cli
def menu_command(cli: CliContext, show: bool) -> None:
    """创建公众号自定义菜单（测评、我的日志、本月统计、帮助；开通校园账号绑定时还有绑定身份）。"""
    menu = menu_definition(cli.settings)
    problems = menu_problems(menu)
    if problems:
        fail("；".join(problems))
    if show:
        click.echo(json.dumps(menu, ensure_ascii=False, indent=2))
        return
    settings = cli.settings
    if not (settings.wechat_appid and settings.wechat_secret):
        fail("需要设置 BANZHUREN_WECHAT_APPID 和 BANZHUREN_WECHAT_SECRET 才能创建菜单")
    cli.database()  # the access token may be cached in the database
    from wechatpy.exceptions import WeChatClientException

    from core.wechat.api import WeChatApi

    try:
        WeChatApi(settings).menu.create(menu)
    except WeChatClientException as exc:
        fail(f"微信拒绝创建菜单：errcode {exc.errcode} {exc.errmsg}")
    click.echo(f"公众号菜单已创建：{menu_summary(menu)}")


@wechat_group.command("poster")
@click.option("--class", "class_code", required=True, help="班级代码")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PNG 文件")
@pass_cli
def poster_command(cli: CliContext, class_code: str, output: str) -> None:
    """生成班级二维码海报（PNG）：学生扫码关注后收到本班的绑定说明。"""
    settings = cli.settings
    if not (settings.wechat_appid and settings.wechat_secret):
        fail("需要设置 BANZHUREN_WECHAT_APPID 和 BANZHUREN_WECHAT_SECRET 才能生成二维码")
    from wechatpy.exceptions import WeChatClientException

    from core.fonts import NoCJKFont
    from core.reach.poster import class_poster

    try:
        with cli.session() as s:
            made = class_poster(s, settings, class_code)
    except NoCJKFont as exc:
        fail(str(exc))
    except WeChatClientException as exc:
        fail(f"微信拒绝生成二维码：errcode {exc.errcode} {exc.errmsg}（需要已认证的服务号）")
    if made is None:
        fail(f"没有班级 {class_code}")
    png, cls = made
    with open(output, "wb") as f:
        f.write(png)
    click.echo(f"{cls.name} 的二维码海报已保存到 {output}")


def register(main: click.Group) -> None:
    main.add_command(wechat_group)
