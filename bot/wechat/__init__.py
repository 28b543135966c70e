"""The WeChat official account's side of banzhuren.

How a chat message becomes a stored answer, module by module:

1. :mod:`bot.wechat.webhook` — ``POST /wechat``: size cap, signature and replay window
   (:mod:`core.wechat.crypto`), decryption, ``wechatpy.parse_message``;
2. :mod:`bot.wechat.dedup` — claims the message key so WeChat's retries are answered once;
3. :mod:`core.locks` — opens the handling transaction holding a per-sender lock;
4. :mod:`bot.chat.router` — builds a :class:`bot.chat.context.ChatContext` and dispatches by
   message type and role: :mod:`bot.chat.binding`, :mod:`bot.chat.help`, then the role's
   handler: ``bot.chat.survey_dialogue.handle`` for students keeps each answer in the sealed
   draft (:mod:`core.surveys.drafts`) and, on 确认, stores the submission
   (:mod:`core.surveys.submission`: the Ballot and the sealed envelope);
   ``bot.chat.worklog.handle`` for head teachers stores work-log entries
   (:mod:`core.worklog.record`);
5. back in the webhook: the reply is recorded with the key, the transaction commits, the
   reply is rendered (``wechatpy.replies.TextReply``) and encrypted when the message was.

Messages sent later (not as the reply) go through :mod:`core.outbox` and
:mod:`core.wechat.api`. :mod:`core.wechat.simulate` builds requests the way WeChat does.

Staff on WeCom (issue 25.5): :mod:`bot.wechat.wecom` (``/wecom``) opens WeCom's envelope and
hands the message to the same pipeline (step 2 on) with its own
:class:`bot.wechat.channel.Channel`: the sender found by UserId = 工号, replies sent through WeCom.
"""
