"""The core every edge uses: settings, the database (sessions, transactions, locks), Redis,
Celery's app and the task names, the outbox, and the product's services (survey rounds and
their seal, reaching students, work logs, evaluation, reports, publication, roster, documents,
dashboard accounts, the audit trail, the WeChat protocol).

The edges (``bot/wechat`` and ``bot/chat``; ``bot/dashboard`` and ``bot/api``; ``bot/cli``;
``worker/tasks``) import from here and never from each other; nothing here imports an edge
(tests/unit/test_layout.py). Below the core: ``models`` (tables) and ``surveys`` (the survey
format and scoring)."""
