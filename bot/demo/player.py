"""Talks to ``/wechat`` over HTTP exactly as WeChat would: each message signed and, in safe
mode, encrypted by engineer W's :class:`core.wechat.simulate.WeChatSimulator`, each reply read
back (decrypted) as the user's phone would show it."""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field

import requests

from bot.demo.school import HeadTeacher, Person
from bot.demo.script import COMMENTS, answer_text, scale_choice
from bot.demo.servers import DemoError
from surveys.definition import SurveyDefinition

QUESTION_HEAD = re.compile(r"关于 ?(.+?) ?的测评 (\d+)/(\d+)")
SUMMARY_HEAD = "请核对关于"
# How often a student says 是 to "did your head teacher visit / talk to you", by profile.
YES_RATE = {"excellent": 0.8, "good": 0.6, "pass": 0.4, "silent": 0.35, "unhappy": 0.15}


@dataclass
class Transcript:
    """Exchanges kept to show what the chat looks like."""

    entries: list[tuple[str, str, str]] = field(default_factory=list)
    limit: int = 200

    def add(self, who: str, sent: str, reply: str) -> None:
        if len(self.entries) < self.limit:
            self.entries.append((who, sent, reply))

    @staticmethod
    def format(entry: tuple[str, str, str], max_lines: int = 8) -> str:
        who, sent, reply = entry
        lines = reply.splitlines() or ["（无回复）"]
        if len(lines) > max_lines:
            lines = [*lines[:max_lines], "……"]
        return f"{who} > {sent}\n  公众号 > " + "\n           ".join(lines)


class Player:
    """Sends messages to the webhook; safe to use from several threads."""

    def __init__(self, base_url: str, simulator, wecom=None, observer=None) -> None:
        self.url = base_url + "wechat"
        self.simulator = simulator
        # Issue 25.5: the school's WeCom app (a ``core.wecom.simulate.WeComSimulator``).
        self.wecom_url = base_url + "wecom"
        self.wecom = wecom
        # Told what each user did (the fake WeChat API's allowance, issue 23).
        self.observer = observer
        self._local = threading.local()
        self.sent = 0
        self.sent_wecom = 0
        self._count = threading.Lock()

    def _http(self) -> requests.Session:
        if not hasattr(self._local, "http"):
            self._local.http = requests.Session()
        return self._local.http

    def _post(self, query: dict, body: bytes) -> str:
        response = self._http().post(
            self.url,
            params=query,
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=15,
        )
        if response.status_code != 200:
            raise DemoError(f"/wechat 返回 HTTP {response.status_code}：{response.text[:200]}")
        with self._count:
            self.sent += 1
        return self.simulator.read_reply(response.content).get("Content", "")

    def say(self, openid: str, text: str, create_time: int | None = None) -> str:
        """Send a text message (sent by the user at ``create_time``, default now); the
        reply's text ("" for none)."""
        if self.observer is not None:
            self.observer(openid, "text")
        return self._post(*self.simulator.text(openid, text, create_time=create_time))

    def event(self, openid: str, event: str, key: str | None = None) -> str:
        if self.observer is not None:
            self.observer(openid, "event", event)
        return self._post(*self.simulator.event(openid, event, key))

    def say_wecom(self, userid: str, text: str) -> str:
        """A text message through the school's WeCom app (``/wecom``); the reply's text."""
        assert self.wecom is not None
        query, body = self.wecom.text(userid, text)
        response = self._http().post(
            self.wecom_url,
            params=query,
            data=body,
            headers={"Content-Type": "text/xml; charset=utf-8"},
            timeout=15,
        )
        if response.status_code != 200:
            raise DemoError(f"/wecom 返回 HTTP {response.status_code}：{response.text[:200]}")
        with self._count:
            self.sent_wecom += 1
        return self.wecom.read_reply(response.content).get("Content", "")


def take_survey(
    player: Player,
    student: Person,
    teachers: dict[str, HeadTeacher],
    definition: SurveyDefinition,
    rng: random.Random,
    transcript: Transcript | None = None,
    n_teachers: int = 1,
    comment: str | None = None,
) -> int:
    """One student answers the whole survey for each of their head teachers, as a person
    would: mostly numbers, sometimes letters or labels, an occasional pause (退出) and resume,
    a change of mind at the summary. ``comment``: what the student writes at the first comment
    question, whatever the dice say (the same dice are thrown, so the answers stay the same).
    Returns how many teachers were rated."""
    by_text = {q.text: q for q in definition.questions}
    mood = rng.uniform(-1, 1)
    # The demo compresses minutes of reading and tapping into a second: each message carries
    # the CreateTime a real student would have produced (WeChat stamps when the user sent it),
    # a few seconds apart, ending now. A few students do rush through (flagged 作答过快).
    rushing = rng.random() < 0.05
    expected = (len(definition.questions) + 2) * max(1, n_teachers) + 4
    gaps = (1.0, 2.5) if rushing else (5.0, 12.0)
    clock = time.time() - expected * sum(gaps) / 2 * 1.2
    pause_at = rng.randint(3, 8) if rng.random() < 0.06 else None
    revise = rng.random() < 0.05
    submitted = 0

    def say(text: str) -> str:
        nonlocal clock
        clock = min(clock + rng.uniform(*gaps), time.time())
        reply = player.say(student.openid, text, create_time=int(clock))
        if transcript is not None:
            transcript.add(student.name, text, reply)
        return reply

    reply = say("测评")
    for _ in range(200):  # bounded: a dialogue that never ends is a bug, not a reason to hang
        if "已提交关于" in reply:
            submitted += 1
        heads = list(QUESTION_HEAD.finditer(reply))
        if SUMMARY_HEAD in reply:
            if revise:
                revise = False
                reply = say("修改 1")
                continue
            reply = say("确认")
            continue
        if not heads:
            return submitted
        head = heads[-1]
        # "王老师（管弦系2026级1班）": the name is what the roster says, then a title or class.
        teacher = next((t for n, t in teachers.items() if head.group(1).startswith(n)), None)
        profile = teacher.profile if teacher else "good"
        number = int(head.group(2))
        question_text = reply[head.end() :].split("\n")[1].strip()
        question = by_text.get(question_text)
        if question is None:
            raise DemoError(f"{student.name}：看不懂这道题：{question_text!r}")
        if pause_at is not None and number == pause_at:
            pause_at = None
            say("退出")
            reply = say("测评")
            continue
        if not question.is_choice:
            written = None
            if rng.random() < 0.3:
                pool = COMMENTS[-1:] if profile == "unhappy" else COMMENTS[:-1]
                written = rng.choice(pool)
            if comment is not None:
                written, comment = comment, None
            reply = say(written or "跳过")
            continue
        labels = [o.label for o in question.options]
        if question.is_scored:
            choice = scale_choice(profile, mood, rng)
        else:
            choice = 1 if rng.random() < YES_RATE.get(profile, 0.5) else 2
        reply = say(answer_text(labels, choice, rng))
    raise DemoError(f"{student.name} 的测评对话超过 200 条消息仍未结束")
