import pytest

from core.settings import ConfigError, load_settings

BASE = {"BANZHUREN_SECRET_KEY": "k" * 32}


def test_defaults_follow_design():
    s = load_settings(BASE)
    assert s.database_url == "sqlite:///banzhuren.db"
    assert s.redis_url is None and s.embedded
    assert s.wechat_token is None  # no default: /wechat answers 503 until it is set
    assert s.wechat_api_base == "https://api.weixin.qq.com/"
    assert s.min_respondents == 5
    assert s.min_participation == 0
    assert s.school_name == "哈尔滨音乐学院"
    assert s.timezone == "Asia/Shanghai"


def test_values_are_read_and_typed():
    s = load_settings(
        BASE
        | {
            "BANZHUREN_REDIS_URL": "redis://127.0.0.1:6379/3",
            "BANZHUREN_MIN_RESPONDENTS": "8",
            "BANZHUREN_MIN_PARTICIPATION": "40",
            "BANZHUREN_SCHOOL_NAME": " 星海音乐学院 ",
            "BANZHUREN_WECHAT_API_BASE": "http://127.0.0.1:9999",
        }
    )
    assert not s.embedded
    assert s.min_respondents == 8
    assert s.min_participation == 40
    assert s.school_name == "星海音乐学院"
    assert s.wechat_api_base == "http://127.0.0.1:9999/"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BANZHUREN_MIN_RESPONDENTS", "five", "应为整数"),
        ("BANZHUREN_MIN_RESPONDENTS", "0", "至少为 1"),
        ("BANZHUREN_MIN_PARTICIPATION", "101", "至多为 100"),
        ("BANZHUREN_MIN_PARTICIPATION", "-1", "至少为 0"),
        ("BANZHUREN_MIN_PARTICIPATION", "30%", "应为整数"),
        ("BANZHUREN_SCHOOL_NAME", "学院" * 21, "至多 40 个字符"),
        ("BANZHUREN_SCHOOL_NAME", "音乐\n学院", "应为一行"),
        ("BANZHUREN_TIMEZONE", "Mars/Olympus", "未知时区"),
        ("BANZHUREN_WECHAT_AES_KEY", "short", "43 位"),
        ("BANZHUREN_WECHAT_TOKEN", "a b", "3-32 位"),
        ("BANZHUREN_REDIS_URL", "localhost:6379", "redis://"),
        ("BANZHUREN_WECHAT_API_BASE", "ftp://x", "http"),
    ],
)
def test_malformed_values_fail_fast_naming_the_variable(name, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(BASE | {name: value})
    assert name in str(info.value)


def test_missing_secret_key_is_quiet_and_marked_unset():
    # filterwarnings=error: any warning here fails the test.
    s = load_settings({})
    assert len(s.secret_key) == 64 and s.secret_key_configured is False
    assert load_settings(BASE).secret_key_configured is True


@pytest.mark.parametrize(
    "name", ["BANZHUREN_SECRET_KEY", "BANZHUREN_DATABASE_URL", "BANZHUREN_WECHAT_SECRET"]
)
def test_placeholders_fail_until_replaced(name):
    with pytest.raises(ConfigError, match="CHANGE-ME") as info:
        load_settings(BASE | {name: "postgresql+psycopg://u:CHANGE-ME@db/x"})
    assert name in str(info.value)


def test_session_times_are_configurable():
    s = load_settings(
        BASE | {"BANZHUREN_SESSION_LIFETIME_MINUTES": "90", "BANZHUREN_SESSION_IDLE_MINUTES": "15"}
    )
    assert (s.session_lifetime_minutes, s.session_idle_minutes) == (90, 15)
    with pytest.raises(ConfigError, match="BANZHUREN_SESSION_IDLE_MINUTES"):
        load_settings(BASE | {"BANZHUREN_SESSION_IDLE_MINUTES": "0"})


def test_public_url_and_apply_months():
    s = load_settings(BASE)
    assert s.public_url is None and s.apply_months == (6,)
    s = load_settings(
        BASE
        | {
            "BANZHUREN_PUBLIC_URL": "https://bzr.example.edu.cn/",
            "BANZHUREN_APPLY_MONTHS": " 6, 5，6 ",
        }
    )
    assert s.public_url == "https://bzr.example.edu.cn" and s.apply_months == (5, 6)


@pytest.mark.parametrize(
    "name, value",
    [
        ("BANZHUREN_PUBLIC_URL", "bzr.example.edu.cn"),
        ("BANZHUREN_PUBLIC_URL", "https://bzr.example.edu.cn/?a=1"),
        ("BANZHUREN_APPLY_MONTHS", "13"),
        ("BANZHUREN_APPLY_MONTHS", "6,"),
        ("BANZHUREN_APPLY_MONTHS", "六月"),
        ("BANZHUREN_APPLY_MONTHS", "0"),
    ],
)
def test_public_url_and_apply_months_refuse_bad_values(name, value):
    with pytest.raises(ConfigError, match=name):
        load_settings(BASE | {name: value})


def test_placeholder_message_is_chinese_and_names_the_variable():
    with pytest.raises(ConfigError) as info:
        load_settings(BASE | {"BANZHUREN_WECHAT_SECRET": "CHANGE-ME"})
    assert str(info.value).startswith("BANZHUREN_WECHAT_SECRET 仍是 .env.example 的占位值")


@pytest.mark.parametrize("key", ["abc", "x" * 31])
def test_a_short_secret_key_is_refused(key):
    with pytest.raises(ConfigError, match="BANZHUREN_SECRET_KEY 太短") as info:
        load_settings({"BANZHUREN_SECRET_KEY": key})
    assert f"{len(key)} 个字符，至少 32 个" in str(info.value)
    assert load_settings({"BANZHUREN_SECRET_KEY": "x" * 32}).secret_key == "x" * 32
