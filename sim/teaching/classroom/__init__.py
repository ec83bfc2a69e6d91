"""The classroom game (``sim classroom``): students play the powers turn by turn from their browsers.

:mod:`sim.teaching.classroom.game` holds the rules and writes the game as a scenario file that
replays it; :mod:`sim.teaching.classroom.server` serves the rooms and the pages in ``static/``.
"""
