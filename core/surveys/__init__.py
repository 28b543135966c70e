"""Survey rounds and what a student's answers go through: who must rate whom
(``eligibility``), the round's life (``rounds``: open, progress, close), the draft in progress
(``drafts``), the confirmed submission (``submission``: Ballot + sealed envelope) and the seal
itself (``seal``, ``seal_key``). The survey format and scoring are the top-level ``surveys``."""
