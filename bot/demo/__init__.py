"""``banzhuren demo``: a made-up school plays one term through the real webhook.

``school`` makes the roster, ``script`` decides (seeded) what everyone says, ``fake_wechat`` stands
in for WeChat's API servers (the tests use the same one), ``servers`` starts the web app and
worker, ``player`` talks to ``/wechat`` exactly as WeChat would, and ``bot.cli.demo`` runs it all
in order.
"""
