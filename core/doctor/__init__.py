"""``banzhuren doctor``: the deployment's checks, each a small function returning a
:class:`~core.doctor.checks.Check` (one Chinese line, ✓ or ✗ with the fix). The CLI prints
them all; the dashboard's overview shows Student Affairs the failing cheap ones."""
