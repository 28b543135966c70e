"""WeCom (企业微信): the school's self-built app, for staff (issue 25.5).

:mod:`core.wecom.crypto` (the callback's signatures and AES envelope, CorpID as receive id),
:mod:`core.wecom.api` (``gettoken`` and ``message/send``, the token shared by every process),
:mod:`core.wecom.outbound` (who is reached on WeCom, sending one message, the fallback to the
official account), :mod:`core.wecom.simulate` (requests built as WeCom builds them).
"""

# Inside the chat pipeline a WeCom sender is ``wecom:<UserId>``: never an openid, so no dedup
# key, lock or dialogue state is shared with the official account.
SENDER_PREFIX = "wecom:"
