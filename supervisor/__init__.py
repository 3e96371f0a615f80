"""The edgeos supervisor: process table, state machines, limits, control endpoint, CLIs."""
