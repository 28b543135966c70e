"""The database stalled under survey traffic (issue 22 item 3): 50 students answering through
gunicorn run as deploy/gunicorn.conf.py, requests stamped ``X-Request-Start`` as nginx stamps
them (``BANZHUREN_TRUSTED_PROXIES=1``), the survey tables locked for 20 s and for 60 s.

    python bench/stall.py [--students 50] [--stalls 20,60] [--no-proxy]

Prints, per stall: confirmations students saw, ballots, responses opened at the round's close,
answers filed under a question the student never saw (misfiled), and exits non-zero when any
answer is misfiled or any confirmed survey is not stored exactly once. The experiment itself is
``tests/support/stall.py`` (``tests/integration/test_stall.py`` runs a short one).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from common import REDIS_URL, create_database, delete_redis_keys, drop_database


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--stalls", default="20,60", help="seconds, comma-separated")
    parser.add_argument("--no-proxy", action="store_true", help="no X-Request-Start")
    args = parser.parse_args()

    import uuid

    from sqlalchemy.orm import Session

    import core.db
    from models.migrate import upgrade
    from tests.conftest import make_settings
    from tests.support.stall import run_stall

    failed = False
    for stall in [float(s) for s in args.stalls.split(",") if s]:
        name, url = create_database(prefix="banzhuren_stall")
        prefix = f"bzrstall:{uuid.uuid4().hex[:8]}"
        try:
            upgrade(url)
            core.db.configure(url)
            settings = make_settings(url, redis_url=REDIS_URL, redis_prefix=prefix)
            with Session(core.db.get_engine()) as session, tempfile.TemporaryDirectory() as tmp:
                figures = run_stall(
                    session,
                    settings,
                    Path(tmp),
                    students=args.students,
                    stall=stall,
                    stall_after=5.0,
                    proxy_header=not args.no_proxy,
                    think=(0.5, 1.5),
                    limit=stall + 240,
                )
            print(f"stall {stall:.0f} s: {figures.line()}", flush=True)
            if figures.errors:
                print("  errors:", figures.errors[:5])
            ok = (
                figures.misfiled_answers == 0
                and figures.duplicate_ballots == 0
                and figures.ballots == figures.opened == figures.finished == args.students
            )
            failed |= not ok
        finally:
            core.db.dispose()
            drop_database(name)
            delete_redis_keys(f"{prefix}:*")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
