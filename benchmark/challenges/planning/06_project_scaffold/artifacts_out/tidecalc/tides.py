TIDE_MINUTES = 12 * 60 + 25


def next_high_tide(last_high: str) -> str:
    """The next high tide after LAST_HIGH ("HH:MM"), a semi-diurnal 12 h 25 min later."""
    hours, minutes = (int(part) for part in last_high.split(":"))
    total = (hours * 60 + minutes + TIDE_MINUTES) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"
