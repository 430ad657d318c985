"""Small tide helpers."""

from tidecalc.convert import feet_to_metres, metres_to_feet
from tidecalc.tides import next_high_tide

__all__ = ["feet_to_metres", "metres_to_feet", "next_high_tide"]
