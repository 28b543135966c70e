"""Reaching students (issue 15): the customer-service allowance (issue 23), round notices and
reminders, QR posters."""
