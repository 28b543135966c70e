"""Binding a WeChat openid to a roster person (student, head teacher or counsellor).

Two ways in share one rule (:mod:`core.binding.service`): the chat's ``绑定 学号 绑定码``
(``bot/chat/binding.py``) and the campus login (``bot/bind/``, with :mod:`core.binding.campus`
for WeChat's web authorisation and the school's CAS). Each binding and release is audited.
"""
