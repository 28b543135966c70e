"""The official account's menu: every button's key is one the router answers."""

from core.wechat.menu import CLICK_TEXTS, menu_definition, menu_problems


def test_default_menu_is_valid_and_covers_every_click_key():
    menu = menu_definition()
    assert menu_problems(menu) == []
    keys = {item["key"] for button in menu["button"] for item in button.get("sub_button", [button])}
    assert keys == set(CLICK_TEXTS)


def test_problems_name_what_wechat_or_the_router_would_refuse():
    too_many = {"button": [{"type": "click", "name": str(i), "key": "HELP"} for i in range(4)]}
    assert "一级菜单应为 1-3 个" in menu_problems(too_many)[0]
    unknown = {"button": [{"type": "click", "name": "抽奖", "key": "LOTTERY"}]}
    assert menu_problems(unknown) == ["菜单键 'LOTTERY' 没有对应的处理"]
    empty_sub = {"button": [{"name": "日志", "sub_button": []}]}
    assert "二级菜单应为 1-5 个" in menu_problems(empty_sub)[0]
