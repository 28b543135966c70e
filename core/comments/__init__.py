"""Reviewed comments (DESIGN.md, Privacy): free-text answers reach a teacher or a branch only
after Student Affairs has shown them; withheld ones are counted, never shown; one that names a
student of the class, holds a phone number or a 学号 is held for review (``detect``)."""
