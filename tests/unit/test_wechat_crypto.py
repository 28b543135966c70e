"""The crypto layer of the webhook against WeChat's two official vectors, and round trips."""

from __future__ import annotations

import pytest
import xmltodict

from core.wechat import crypto
from core.wechat.simulate import WeChatSimulator

# PROTOCOL.md: URL check vector.
URL_TOKEN, URL_TS, URL_NONCE = "AAAAA", "1714036504", "1514711492"
URL_SIGNATURE = "f464b24fc39322e44b38aa78f5edd27bd1441696"

# PROTOCOL.md: encrypted message vector (compatible-mode sample).
TOKEN = "spamtest"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx2c2769f8efd9abc2"
TS, NONCE = "1409735669", "1320562132"
MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def test_url_check_vector():
    assert crypto.sign(URL_TOKEN, URL_TS, URL_NONCE) == URL_SIGNATURE
    assert crypto.signature_matches(URL_SIGNATURE, URL_TOKEN, URL_TS, URL_NONCE)
    assert not crypto.signature_matches(URL_SIGNATURE, URL_TOKEN, URL_TS, "1514711493")
    assert not crypto.signature_matches("", URL_TOKEN, URL_TS, URL_NONCE)
    assert not crypto.signature_matches(None, URL_TOKEN, URL_TS, URL_NONCE)


def test_encrypted_message_vector():
    assert crypto.signature_matches(MSG_SIGNATURE, TOKEN, TS, NONCE, ENCRYPT)
    xml, key = crypto.decrypt_with_keys(ENCRYPT, [AES_KEY], APPID)
    assert key == AES_KEY
    msg = xmltodict.parse(xml)["xml"]
    assert msg["FromUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert msg["ToUserName"] == "gh_10f6c3c3ac5a"
    assert msg["CreateTime"] == "1409735668"
    assert msg["Content"] == "abcdteT"
    assert msg["MsgId"] == "6054768590064713728"


def test_vector_envelope_field_is_found_in_a_compatible_body():
    body = (
        "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
        "<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>"
        f"<Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>"
    )
    assert crypto.envelope_encrypt_field(body) == ENCRYPT


def test_previous_key_is_tried_after_the_current_one():
    current = crypto.random_aes_key()
    xml, key = crypto.decrypt_with_keys(ENCRYPT, [current, None, AES_KEY], APPID)
    assert key == AES_KEY and "abcdteT" in xml


def test_wrong_key_or_appid_is_a_decrypt_error():
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt_with_keys(ENCRYPT, [crypto.random_aes_key()], APPID)
    with pytest.raises(crypto.DecryptError):
        crypto.decrypt(ENCRYPT, AES_KEY, "wx0000000000000000")
    for garbage in ("", "not base64 !!", "AAAA", ENCRYPT[:-8] + "AAAAAAA="):
        with pytest.raises(crypto.DecryptError):
            crypto.decrypt(garbage, AES_KEY, APPID)


def test_encrypt_round_trip_with_chinese_text():
    key = crypto.random_aes_key()
    xml = "<xml><Content><![CDATA[测评 第3题]]></Content></xml>"
    envelope = crypto.encrypt_reply(
        xml, token="tok", encoding_aes_key=key, appid="wxabc", nonce="123", timestamp="1700000000"
    )
    fields = xmltodict.parse(envelope)["xml"]
    assert fields["TimeStamp"] == "1700000000" and fields["Nonce"] == "123"
    assert crypto.signature_matches(
        fields["MsgSignature"], "tok", "1700000000", "123", fields["Encrypt"]
    )
    assert crypto.open_reply(envelope, token="tok", encoding_aes_key=key, appid="wxabc") == xml
    with pytest.raises(crypto.DecryptError):
        crypto.open_reply(envelope, token="other", encoding_aes_key=key, appid="wxabc")


def test_random_keys_are_valid_encoding_aes_keys():
    keys = {crypto.random_aes_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert len(key) == 43 and key.isalnum()
        assert len(crypto.aes_key_bytes(key)) == 32


def test_timestamp_window():
    assert crypto.timestamp_fresh("1000", 300, now=1000)
    assert crypto.timestamp_fresh("1300", 300, now=1000)
    assert crypto.timestamp_fresh("700", 300, now=1000)
    assert not crypto.timestamp_fresh("699", 300, now=1000)
    assert not crypto.timestamp_fresh("1301", 300, now=1000)
    assert not crypto.timestamp_fresh("", 300, now=1000)
    assert not crypto.timestamp_fresh("-5", 300, now=1000)
    assert not crypto.timestamp_fresh("12a", 300, now=1000)


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_simulator_builds_what_the_crypto_layer_accepts(mode):
    key = crypto.random_aes_key()
    sim = WeChatSimulator("tok", key, "wxapp", mode=mode)
    query, body = sim.text("o-1", "你好]]>世界", msg_id=42)
    assert crypto.signature_matches(query["signature"], "tok", query["timestamp"], query["nonce"])
    if mode == "plain":
        xml = body.decode()
        assert "encrypt_type" not in query
    else:
        encrypted = crypto.envelope_encrypt_field(body)
        assert crypto.signature_matches(
            query["msg_signature"], "tok", query["timestamp"], query["nonce"], encrypted
        )
        xml, _ = crypto.decrypt_with_keys(encrypted, [key], "wxapp")
        assert ("<Content>" in body.decode()) == (mode == "compatible")
    msg = xmltodict.parse(xml)["xml"]
    assert msg["Content"] == "你好]]>世界" and msg["MsgId"] == "42"


def test_malformed_envelopes():
    for body in (b"", b"<xml>", b"<xml></xml>", b"<xml><Encrypt></Encrypt></xml>", b"\xff\xfe"):
        with pytest.raises(crypto.MalformedEnvelope):
            crypto.envelope_encrypt_field(body)


def _field_or_error(read, body: bytes) -> str:
    try:
        return read(body)
    except crypto.MalformedEnvelope:
        return "MalformedEnvelope"


@pytest.mark.parametrize(
    "body",
    [
        f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
        f"<xml>\n  <ToUserName><![CDATA[gh_x]]></ToUserName>\n  <Encrypt><![CDATA[{ENCRYPT}]]></Encrypt>\n</xml>\n",
        f"<xml><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
        f"<xml><Encrypt>{ENCRYPT}</Encrypt></xml>",
        f'<?xml version="1.0"?><xml><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>',
        f"<xml><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt><Encrypt><![CDATA[x]]></Encrypt></xml>",
        f"<xml><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml><xml/>",
        f"<xml><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>\x0c",
        f"<xml><ToUserName><![CDATA[gh_\xff]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
        f"<xml><Encrypt a='1'><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
        f"<!DOCTYPE x [<!ENTITY e 'y'>]><xml><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
        "<xml><Encrypt><![CDATA[]]></Encrypt></xml>",
        "<xml><Encrypt><![CDATA[ ]]></Encrypt></xml>",
        f"<xmlx><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xmlx>",
        f" <xml><Encrypt><![CDATA[{ENCRYPT}]]></Encrypt></xml>",
    ],
)
def test_the_usual_envelope_is_read_as_xmltodict_reads_any(body):
    """Issue 26: a body in WeChat's usual shape is read by a regular expression; whatever the
    shape, the field (or the refusal) is the one the XML parser gives."""
    raw = body.encode("latin-1" if "\xff" in body else "utf-8")
    expected = _field_or_error(crypto.parsed_encrypt_field, raw)
    assert _field_or_error(crypto.envelope_encrypt_field, raw) == expected
    assert (crypto._SAFE_ENVELOPE.match(raw) is not None) <= (expected == ENCRYPT)


def test_the_simulators_safe_envelope_takes_the_quick_way():
    sim = WeChatSimulator("tok", crypto.random_aes_key(), "wxapp", mode="safe")
    _query, body = sim.text("o-1", "你好", msg_id=42)
    assert crypto._SAFE_ENVELOPE.match(body) is not None
