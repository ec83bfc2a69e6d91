"""Scenario simulator of great-power influence in Central Asia (a Mesa agent-based model)."""

__version__ = "0.1.0"
