"""Monitoring: events, cluster views, remote control and the dead-letter stream."""
