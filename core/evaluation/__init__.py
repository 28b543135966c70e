"""Term evaluation (第十五条 to 第二十条): pure rules (``grading``, ``intervals``), grouped SQL
(``queries``), and the steps a Celery task or the in-process runner drives (``run``)."""
