"""Small statistics helpers used by the harbour reports."""

from collections import Counter


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def mode(values: list[float]) -> float:
    counts = Counter(values)
    return min(counts, key=lambda v: (-counts[v], v))
