from itertools import combinations


def three_sum(nums: list[int], target: int) -> list[int]:
    """Indices, in increasing order, of the three numbers of NUMS that add up to TARGET ([] if none do)."""
    for i, j, k in combinations(range(len(nums)), 3):
        if nums[i] + nums[j] + nums[k] == target:
            return [i, j, k]
    return []
