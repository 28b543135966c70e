"""Reaching students (issue 15): the 48-hour window, round notices and reminders, QR posters."""
