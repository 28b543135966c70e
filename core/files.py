"""Files the product writes are not for other users of the machine (issue 22): the SQLite
database, logs, report exports, Word documents, binding-code lists and posters carry names,
grades and codes. Every process the product starts (the ``banzhuren`` command, the web app,
the Celery worker and beat) narrows its umask once at start, so that whatever it creates is
at most owner read-write, group read (0640; directories 0750), whichever library opens the file.
The seal key is written 0600 on its own (``core.surveys.seal_key``)."""

from __future__ import annotations

import os

# Nothing for "others"; no write for the group.
PRIVATE_UMASK = 0o027


def restrict_new_files() -> int:
    """Add PRIVATE_UMASK to the process's umask (never loosening a stricter one the operator
    set); returns the umask in force afterwards."""
    current = os.umask(0)
    narrowed = current | PRIVATE_UMASK
    os.umask(narrowed)
    return narrowed
