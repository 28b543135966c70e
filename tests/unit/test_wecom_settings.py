"""WeCom settings (issue 25.5): all five or none, each checked, the message in Chinese naming
the variable; and the callback crypto against wechatpy.enterprise."""

from __future__ import annotations

import pytest
from wechatpy.enterprise import WeChatCrypto

from core.settings import DEFAULT_WECOM_API_BASE, ConfigError, load_settings
from core.wechat.crypto import random_aes_key
from core.wecom import crypto

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
FULL = {
    "BANZHUREN_WECOM_CORP_ID": "ww1234567890abcdef",
    "BANZHUREN_WECOM_AGENT_ID": "1000002",
    "BANZHUREN_WECOM_SECRET": "s3cr3t-Value_0123456789",
    "BANZHUREN_WECOM_TOKEN": "wecomToken1",
    "BANZHUREN_WECOM_AES_KEY": KEY,
}


def test_unset_means_no_wecom():
    s = load_settings({})
    assert not s.wecom and s.wecom_corp_id is None
    assert s.wecom_api_base == DEFAULT_WECOM_API_BASE == "https://qyapi.weixin.qq.com/"


def test_all_five_are_read_and_typed():
    s = load_settings(FULL | {"BANZHUREN_WECOM_API_BASE": "http://127.0.0.1:9000"})
    assert s.wecom
    assert (s.wecom_corp_id, s.wecom_agent_id) == ("ww1234567890abcdef", 1000002)
    assert s.wecom_secret == FULL["BANZHUREN_WECOM_SECRET"]
    assert (s.wecom_token, s.wecom_aes_key) == ("wecomToken1", KEY)
    assert s.wecom_api_base == "http://127.0.0.1:9000/"


@pytest.mark.parametrize("missing", sorted(FULL))
def test_some_but_not_all_is_refused_naming_what_is_missing(missing):
    env = {k: v for k, v in FULL.items() if k != missing}
    with pytest.raises(ConfigError, match=f"还缺少 {missing}") as exc:
        load_settings(env)
    assert "要么全部填写，要么全部不填" in str(exc.value)


@pytest.mark.parametrize(
    "name, value",
    [
        ("BANZHUREN_WECOM_CORP_ID", "ww 123"),
        ("BANZHUREN_WECOM_CORP_ID", "企业"),
        ("BANZHUREN_WECOM_AGENT_ID", "10000x"),
        ("BANZHUREN_WECOM_AGENT_ID", "１０００"),
        ("BANZHUREN_WECOM_AGENT_ID", "99999999999"),
        ("BANZHUREN_WECOM_SECRET", "short"),
        ("BANZHUREN_WECOM_SECRET", "has space in it!"),
        ("BANZHUREN_WECOM_TOKEN", "a b"),
        ("BANZHUREN_WECOM_TOKEN", "x" * 33),
        ("BANZHUREN_WECOM_AES_KEY", KEY[:-1]),
        ("BANZHUREN_WECOM_AES_KEY", KEY[:-1] + "="),
        ("BANZHUREN_WECOM_API_BASE", "ftp://x"),
        ("BANZHUREN_WECOM_API_BASE", "https://x/?a=1"),
    ],
)
def test_malformed_values_are_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name) as exc:
        load_settings(FULL | {name: value})
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.value))  # said in Chinese


def test_placeholders_fail():
    with pytest.raises(ConfigError, match="BANZHUREN_WECOM_SECRET"):
        load_settings(FULL | {"BANZHUREN_WECOM_SECRET": "CHANGE-ME"})


def test_our_envelope_is_wechatpy_enterprise_s():
    """What the simulator encrypts, wechatpy.enterprise decrypts, and the other way round."""
    key, corp = random_aes_key(), "wwcorp0001"
    xml = "<xml><Content><![CDATA[谈心]]></Content></xml>"
    reply = crypto.encrypt_reply(xml, token="tok", encoding_aes_key=key, corp_id=corp, nonce="123")
    assert crypto.open_reply(reply, token="tok", encoding_aes_key=key, corp_id=corp) == xml
    encrypted = crypto.encrypt(xml, key, corp)
    ts, nonce = "1714036504", "99"
    sig = crypto.sign("tok", ts, nonce, encrypted)
    body = f"<xml><ToUserName>{corp}</ToUserName><Encrypt>{encrypted}</Encrypt></xml>"
    assert WeChatCrypto("tok", key, corp).decrypt_message(body, sig, ts, nonce) == xml
    # URL check: wechatpy's check_signature decrypts echostr as WeCom requires.
    echo = crypto.encrypt("8675309", key, corp)
    echo_sig = crypto.sign("tok", ts, nonce, echo)
    assert WeChatCrypto("tok", key, corp).check_signature(echo_sig, ts, nonce, echo) == "8675309"
    assert crypto.decrypt(echo, key, corp) == "8675309"


def test_another_corp_id_does_not_decrypt():
    key = random_aes_key()
    encrypted = crypto.encrypt("<xml/>", key, "wwcorpA")
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(encrypted, key, "wwcorpB")
    for garbage in ("", "!!!", "QUJD", "A" * 64):
        with pytest.raises(crypto.DecryptError):
            crypto.decrypt(garbage, key, "wwcorpA")
