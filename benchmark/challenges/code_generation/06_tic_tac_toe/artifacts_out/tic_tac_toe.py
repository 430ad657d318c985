"""Two-player tic-tac-toe in the terminal: moves "x,y" (row,column, 0-2) on standard input."""

import sys

LINES = [[(r, c) for c in range(3)] for r in range(3)] + [[(r, c) for r in range(3)] for c in range(3)]
LINES += [[(i, i) for i in range(3)], [(i, 2 - i) for i in range(3)]]


def show(board: list[list[int]]) -> None:
    print("\n".join(" ".join(".12"[cell] for cell in row) for row in board))


def parse(line: str) -> tuple[int, int] | None:
    try:
        x, y = (int(part) for part in line.strip().split(","))
    except ValueError:
        return None
    return (x, y) if 0 <= x < 3 and 0 <= y < 3 else None


def winner(board: list[list[int]]) -> int:
    for line in LINES:
        values = {board[r][c] for r, c in line}
        if len(values) == 1 and 0 not in values:
            return values.pop()
    return 0


def main() -> None:
    board = [[0] * 3 for _ in range(3)]
    player = 1
    for _ in range(9):
        while True:
            line = input(f"Player {player}, your move (x,y): ")
            move = parse(line)
            if move is not None and board[move[0]][move[1]] == 0:
                break
        board[move[0]][move[1]] = player
        show(board)
        if winner(board):
            print(f"Player {player} won!")
            return
        player = 3 - player
    print("Draw")


if __name__ == "__main__":
    try:
        main()
    except EOFError:
        sys.exit(1)
