"""The Celery worker: ``main`` configures it from the environment, ``tasks`` does the work
(evaluation, outbound WeChat messages, 反馈 forwarding, reminders, round closing, maintenance).
The Celery app and the task names live in the core (core.celery_app, core.jobs)."""
