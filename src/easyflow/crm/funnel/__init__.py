"""Pipelines, deals and their history, the rules that move deals, tasks, and the stages\x27 reminders."""
