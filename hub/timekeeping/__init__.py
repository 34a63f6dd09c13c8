"""Time as the hub reads it: an injectable clock, the hub's zone, intervals and hours.

- :mod:`~hub.timekeeping.clock` the system clock and the fake one tests drive.
- :mod:`~hub.timekeeping.when` routine slots, quiet hours and calendar days in the hub's zone.
- :mod:`~hub.timekeeping.hours` business hours like ``"Mon-Fri 09:00-18:00"``.
- :mod:`~hub.timekeeping.durations` ``"10 minutes"``, ``"2 days"`` as timedeltas.
"""
