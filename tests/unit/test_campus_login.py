"""The campus login's rules without a database: its settings, the 学号/工号 taken from a CAS
answer, the menu's 绑定身份 button, the posters' instructions, and ticket validation against
the fake CAS (each failure code)."""

from __future__ import annotations

import pytest
import requests

from bot.demo.fake_cas import FakeCas
from core.binding import campus
from core.reach.poster import CAMPUS_INSTRUCTIONS, INSTRUCTIONS, instructions_for
from core.settings import ConfigError, Settings, load_settings
from core.wechat.menu import menu_definition, menu_problems, menu_summary

BASE = {"BANZHUREN_WECHAT_APPID": "wx123", "BANZHUREN_WECHAT_SECRET": "s3cret"}


def campus_env(**extra: str) -> dict[str, str]:
    return {
        **BASE,
        "BANZHUREN_PUBLIC_URL": "https://bzr.example.edu.cn/",
        "BANZHUREN_CAS_URL": "https://cas.example.edu.cn/cas",
        **extra,
    }


def test_campus_settings_are_read_and_normalised():
    settings = load_settings(campus_env(BANZHUREN_CAS_USER_ATTRIBUTE="employeeNumber"))
    assert settings.public_url == "https://bzr.example.edu.cn"
    # python-cas joins paths onto the prefix: it must end with a slash.
    assert settings.cas_url == "https://cas.example.edu.cn/cas/"
    assert settings.cas_version == 3 and settings.cas_user_attribute == "employeeNumber"
    assert settings.campus_login
    assert not load_settings(BASE).campus_login
    assert load_settings(campus_env(BANZHUREN_CAS_VERSION="2")).cas_version == 2


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({**BASE, "BANZHUREN_CAS_URL": "https://cas.example.edu.cn/cas"}, "BANZHUREN_PUBLIC_URL"),
        (
            {
                "BANZHUREN_PUBLIC_URL": "https://bzr.example.edu.cn",
                "BANZHUREN_CAS_URL": "https://cas.example.edu.cn/cas",
            },
            "BANZHUREN_WECHAT_APPID",
        ),
        (campus_env(BANZHUREN_CAS_VERSION="1"), "BANZHUREN_CAS_VERSION 只能是 2 或 3"),
        (campus_env(BANZHUREN_CAS_VERSION="3.0"), "BANZHUREN_CAS_VERSION"),
        (campus_env(BANZHUREN_CAS_USER_ATTRIBUTE="学号 列"), "BANZHUREN_CAS_USER_ATTRIBUTE"),
        (campus_env(BANZHUREN_PUBLIC_URL="bzr.example.edu.cn"), "BANZHUREN_PUBLIC_URL 应为"),
        (campus_env(BANZHUREN_PUBLIC_URL="https://bzr.example.edu.cn/?x=1"), "不含 ? 和 #"),
        (campus_env(BANZHUREN_CAS_URL="ftp://cas.example.edu.cn"), "BANZHUREN_CAS_URL 应为"),
    ],
)
def test_bad_campus_settings_stop_the_process_in_chinese(env, words):
    with pytest.raises(ConfigError, match=words.replace("?", r"\?")):
        load_settings(env)


@pytest.mark.parametrize(
    ("user", "attributes", "attribute", "expected"),
    [
        ("2023010101\n", None, None, "2023010101"),
        ("zhangsan", {"employeeNumber": "T1001"}, "employeeNumber", "T1001"),
        ("zhangsan", {"employeeNumber": ["T1001", "T9"]}, "employeeNumber", "T1001"),
        ("zhangsan", {"cn": "张三"}, "employeeNumber", None),
        ("zhangsan", None, "employeeNumber", None),
        ("   ", None, None, None),
        ("x" * 65, None, None, None),
        ("a\x00b", None, None, None),
        (None, None, None, None),
    ],
)
def test_campus_id_from_a_cas_answer(user, attributes, attribute, expected):
    assert campus.campus_id(user, attributes, attribute) == expected


def test_the_menu_opens_bind_start_only_with_the_campus_login():
    plain = menu_definition()
    assert menu_definition(Settings()) == plain
    assert "view" not in str(plain)
    settings = Settings(
        public_url="https://bzr.example.edu.cn",
        cas_url="https://cas.example.edu.cn/cas/",
        wechat_appid="wx1",
        wechat_secret="s",
    )
    menu = menu_definition(settings)
    assert menu_problems(menu) == []
    [view] = [
        sub for b in menu["button"] for sub in b.get("sub_button", []) if sub["type"] == "view"
    ]
    assert view == {
        "type": "view",
        "name": "绑定身份",
        "url": "https://bzr.example.edu.cn/bind/start",
    }
    assert (
        menu_summary(menu)
        == "满意度测评｜工作日志（我的日志、本月统计）｜帮助（绑定身份、使用帮助）"
    )
    assert menu_summary(plain) == "满意度测评｜工作日志（我的日志、本月统计）｜使用帮助"


def test_a_view_button_without_a_usable_url_is_a_problem():
    menu = {"button": [{"type": "view", "name": "绑定身份", "url": "javascript:alert(1)"}]}
    assert menu_problems(menu) == ["「绑定身份」的网页地址 'javascript:alert(1)' 无效"]


def test_posters_point_to_the_campus_login_when_configured():
    assert instructions_for(None) == INSTRUCTIONS
    assert instructions_for(Settings()) == INSTRUCTIONS
    on = Settings(public_url="https://bzr.example.edu.cn", cas_url="https://cas.example/cas/")
    assert instructions_for(on) == CAMPUS_INSTRUCTIONS
    assert any("统一身份认证" in line for line in CAMPUS_INSTRUCTIONS)
    assert not any("绑定码" in line for line in CAMPUS_INSTRUCTIONS)


@pytest.fixture
def cas_server():
    server = FakeCas().start()
    yield server
    server.stop()


def cas_settings(server: FakeCas, version: int = 3) -> Settings:
    return Settings(public_url="http://app.test", cas_url=server.url, cas_version=version)


@pytest.mark.parametrize("version", [2, 3])
def test_validation_succeeds_once_then_invalid_ticket(cas_server, version):
    settings = cas_settings(cas_server, version)
    service = campus.cas_service_url(settings)
    ticket = cas_server.login("2023010101", service, {"uid": "zs"})
    assert campus.validate_ticket(settings, ticket) == "2023010101"
    with pytest.raises(campus.TicketRefused) as refused:
        campus.validate_ticket(settings, ticket)
    assert refused.value.code == "INVALID_TICKET"
    endpoint = "p3/serviceValidate" if version == 3 else "serviceValidate"
    assert [v[0] for v in cas_server.validations] == [endpoint, endpoint]


def test_a_ticket_for_another_service_is_invalid_service_and_spent(cas_server):
    settings = cas_settings(cas_server)
    ticket = cas_server.login("S1", "https://elsewhere.example/")
    with pytest.raises(campus.TicketRefused) as refused:
        campus.validate_ticket(settings, ticket)
    assert refused.value.code == "INVALID_SERVICE"
    # Like CAS, a failed validation spends the ticket.
    assert cas_server.validations[-1][3] == "INVALID_SERVICE"


def test_a_request_without_service_is_invalid_request(cas_server):
    answer = requests.get(
        cas_server.url + "p3/serviceValidate", params={"ticket": "ST-1"}, timeout=5
    )
    assert campus.failure_code(answer.content)[0] == "INVALID_REQUEST"
    answer = requests.get(cas_server.url + "serviceValidate", params={"service": "x"}, timeout=5)
    assert campus.failure_code(answer.content)[0] == "INVALID_REQUEST"


def test_an_unknown_ticket_is_invalid_ticket(cas_server):
    with pytest.raises(campus.TicketRefused) as refused:
        campus.validate_ticket(cas_settings(cas_server), "ST-made-up")
    assert refused.value.code == "INVALID_TICKET"


def test_an_error_page_or_no_server_is_unreachable(cas_server):
    settings = cas_settings(cas_server)
    cas_server.inject_http_status(500)
    with pytest.raises(campus.Unreachable):
        campus.validate_ticket(settings, "ST-1")
    cas_server.stop()
    with pytest.raises(campus.Unreachable):
        campus.validate_ticket(settings, "ST-1")


def test_the_login_url_comes_back_to_bind_cas(cas_server):
    settings = cas_settings(cas_server)
    url = campus.cas_login_url(settings)
    assert url == cas_server.url + "login?service=http%3A%2F%2Fapp.test%2Fbind%2Fcas"


@pytest.mark.parametrize(
    ("ticket", "plausible"),
    [
        # Apereo CAS appends its host name.
        ("ST-1-u4hrm3td92cLxpCvrjylcas.example.com", True),
        ("ST-1-u4hrm3td92cLxpCvrjyl/cas", False),
        ("ST-1 2", False),
        ("ST-1-u4hrm3td92cLxpCvrjyl-fakecas", True),
        ("ST-" + "a" * 253, True),
        ("ST-" + "a" * 254, False),
        ("ST-1\x00", False),
        ("ST-1<x>", False),
        ("ST-１", False),  # a full-width digit
    ],
)
def test_only_ticket_characters_go_to_cas(ticket, plausible):
    assert campus.plausible_ticket(ticket) is plausible
