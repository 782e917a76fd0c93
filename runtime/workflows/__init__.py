"""Workflow runs: submit, join, plan, steps, handles and eager runs."""
