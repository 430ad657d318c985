"""TicTacToe: plays whole games through tic_tac_toe.py's standard input."""

import subprocess
import sys

import pytest


def play(moves: list[str]) -> str:
    result = subprocess.run([sys.executable, "tic_tac_toe.py"], input="\n".join(moves) + "\n",
                            capture_output=True, text=True, timeout=20)
    return result.stdout


@pytest.mark.parametrize(
    ("moves", "expected"),
    [
        (["0,0", "1,0", "0,1", "1,1", "0,2"], "Player 1 won!"),  # top row
        (["1,0", "0,0", "1,1", "0,1", "2,2", "0,2"], "Player 2 won!"),  # player 2's top row
        (["0,0", "0,1", "1,1", "0,2", "2,2"], "Player 1 won!"),  # diagonal
        (["0,2", "0,0", "1,1", "1,0", "2,0"], "Player 1 won!"),  # anti-diagonal
        (["0,0", "0,1", "0,2", "1,1", "1,0", "1,2", "2,1", "2,0", "2,2"], "Draw"),
        (["0,0", "0,0", "3,3", "a,b", "1,0", "0,1", "1,1", "0,2", "2,2"], "Player 1 won!"),  # bad moves ignored
    ],
)
def test_game(moves: list[str], expected: str) -> None:
    out = play(moves)
    assert expected in out
    for other in {"Player 1 won!", "Player 2 won!", "Draw"} - {expected}:
        assert other not in out
