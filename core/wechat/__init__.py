"""WeChat's protocol, for every side that speaks it: the API client (``api``), message
signatures and encryption (``crypto``), requests built as WeChat builds them (``simulate``: the
demo, tests and benches) and the account's custom menu (``menu``). The webhook that receives
messages is an edge: ``bot/wechat``."""
