"""WeCom's API, the two calls the product makes: ``cgi-bin/gettoken?corpid&corpsecret`` and
``POST cgi-bin/message/send?access_token`` (text to one ``touser``, with the app's ``agentid``).

Everything goes to ``BANZHUREN_WECOM_API_BASE`` (tests and the demo point it at
``bot/demo/fake_wecom.py``). The access token is the app's (CorpID + Secret) and shared by every
process as the official account's is (:mod:`core.wechat.api`'s stores: Redis with one refresher,
or the ``wechat_access_tokens`` table under a database lock), under its own key. An answer of
40014 / 42001 (token invalid or expired) refreshes it once and retries once.

Errors are wechatpy's ``WeChatClientException`` (errcode None for HTTP-level failures), so the
outbox classifies them as it does the official account's; network errors are requests'.
"""

from __future__ import annotations

import logging

import requests
from requests import RequestException
from wechatpy.exceptions import WeChatClientException

from core.settings import Settings
from core.wechat.api import HTTP_TIMEOUT, DbTokenStore, RedisTokenStore, TokenStore, scrub

log = logging.getLogger(__name__)

# 40014 invalid access_token, 42001 expired; 40001 is also said of a token gone stale.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
# All of touser, toparty and totag invalid (the only recipient is not in the address book).
ALL_INVALID = 81013


def token_key(settings: Settings) -> str:
    """The token store's key: one token per app (CorpID and AgentId), never the account's."""
    return f"wecom:{settings.wecom_corp_id}:{settings.wecom_agent_id}"


def token_store_for(settings: Settings) -> TokenStore:
    if settings.redis_url:
        return RedisTokenStore(settings, token_key(settings))
    return DbTokenStore(token_key(settings))


class WeComApi:
    """``WeComApi(settings).send_text(userid, text)``; raises RuntimeError when WeCom is not
    configured."""

    def __init__(self, settings: Settings, tokens: TokenStore | None = None) -> None:
        if not (settings.wecom and settings.wecom_secret and settings.wecom_agent_id):
            raise RuntimeError("企业微信未配置（BANZHUREN_WECOM_CORP_ID 等）")
        self.settings = settings
        self.base = settings.wecom_api_base
        self.tokens = tokens if tokens is not None else token_store_for(settings)
        self._http = requests.Session()

    def _call(self, method: str, path: str, **kwargs) -> dict:
        try:
            res = self._http.request(method, self.base + path, timeout=HTTP_TIMEOUT, **kwargs)
            res.raise_for_status()
            result = res.json()
        except requests.HTTPError as exc:
            raise WeChatClientException(None, scrub(f"WeCom HTTP error: {exc}")) from None
        except ValueError:
            raise WeChatClientException(None, "WeCom answered something not JSON") from None
        if not isinstance(result, dict):
            raise WeChatClientException(None, "WeCom answered something not an object")
        errcode = result.get("errcode") or 0
        if errcode:
            raise WeChatClientException(int(errcode), str(result.get("errmsg", "")))
        return result

    def _fetch_token(self) -> tuple[str, int]:
        """Ask WeCom for a new token (only ever called under the store's lock)."""
        log.info("fetching a WeCom access token for %s", self.settings.wecom_corp_id)
        try:
            result = self._call(
                "GET",
                "cgi-bin/gettoken",
                params={
                    "corpid": self.settings.wecom_corp_id,
                    "corpsecret": self.settings.wecom_secret,
                },
            )
        except RequestException as exc:
            raise WeChatClientException(None, scrub(f"WeCom token request failed: {exc}")) from None
        return str(result["access_token"]), int(result.get("expires_in", 7200))

    @property
    def access_token(self) -> str:
        return self.tokens.get() or self.tokens.refresh(self._fetch_token, stale=None)

    def send_text(self, userid: str, content: str) -> set[str]:
        """Send ``content`` to ``userid``; returns the users WeCom did not know
        (``invaliduser``: not an error, the message simply reached nobody there)."""
        body = {
            "touser": userid,
            "msgtype": "text",
            "agentid": self.settings.wecom_agent_id,
            "text": {"content": content},
        }
        for attempt in (1, 2):
            token = self.access_token
            try:
                result = self._call(
                    "POST", "cgi-bin/message/send", params={"access_token": token}, json=body
                )
            except WeChatClientException as exc:
                if exc.errcode == ALL_INVALID:
                    return {userid}
                if attempt == 2 or exc.errcode not in TOKEN_ERRCODES:
                    raise
                log.info("WeCom said errcode %s: refreshing the access token", exc.errcode)
                self.tokens.refresh(self._fetch_token, stale=token)
                continue
            invalid = str(result.get("invaliduser") or "")
            return {user for user in invalid.split("|") if user}
        raise AssertionError("unreachable")
