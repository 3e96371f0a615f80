"""Chaos suite: faults injected into a real daemon; after each the system must be back
without a human within the fault's stated time, with last values and config intact."""
