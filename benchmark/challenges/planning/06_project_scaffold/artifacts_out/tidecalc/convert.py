FOOT = 0.3048  # metres


def metres_to_feet(m: float) -> float:
    return m / FOOT


def feet_to_metres(ft: float) -> float:
    return ft * FOOT
