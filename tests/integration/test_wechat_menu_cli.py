"""``banzhuren wechat menu`` against the local stand-in for WeChat's API."""

from click.testing import CliRunner

from bot.cli import main
from core.wechat.menu import menu_definition


def _env(db_url: str, api, **extra) -> dict[str, str]:
    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "test-secret" * 32,
        "BANZHUREN_WECHAT_APPID": api.appid,
        "BANZHUREN_WECHAT_SECRET": api.secret,
        "BANZHUREN_WECHAT_API_BASE": api.url,
    }
    env.update(extra)
    return env


def test_menu_is_created_through_the_api(db_url, fake_wechat_api):
    result = CliRunner().invoke(main, ["wechat", "menu"], env=_env(db_url, fake_wechat_api))
    assert result.exit_code == 0, result.output
    assert "公众号菜单已创建" in result.output
    assert fake_wechat_api.menus == [menu_definition()]


def test_refusal_from_wechat_is_one_line_and_non_zero(db_url, fake_wechat_api):
    fake_wechat_api.inject(45064)
    result = CliRunner().invoke(main, ["wechat", "menu"], env=_env(db_url, fake_wechat_api))
    assert result.exit_code == 1
    assert "微信拒绝创建菜单：errcode 45064" in result.output
    assert fake_wechat_api.menus == []


def test_without_appid_and_secret_it_says_what_is_missing(db_url, fake_wechat_api):
    env = _env(db_url, fake_wechat_api, BANZHUREN_WECHAT_APPID="", BANZHUREN_WECHAT_SECRET="")
    result = CliRunner().invoke(main, ["wechat", "menu"], env=env)
    assert result.exit_code == 1
    assert "BANZHUREN_WECHAT_APPID" in result.output
    assert fake_wechat_api.menus == []
