"""Attendance evaluation suite: scenario folders, runner and report."""
