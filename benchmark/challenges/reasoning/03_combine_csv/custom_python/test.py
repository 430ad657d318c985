"""CombineCsv: checks combined.csv against the two input files."""

import csv
import sys

EXPECTED = [
    ["id", "name", "boat", "length_m"],
    ["101", "Eirik Dahl", "Seagull", "11.2"],
    ["102", "Tove Berg", "Kittiwake", "9.5"],
    ["103", "Maja Lund", "Marta", "12.6"],
    ["104", "Ragna Solberg", "Tern", "7.8"],
    ["105", "Ansel Kvist", "Brisling", "14.0"],
]

try:
    with open("combined.csv", newline="", encoding="utf-8") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f) if row]
except FileNotFoundError:
    print("Error: combined.csv was not written")
    sys.exit(1)
if rows != EXPECTED:
    print("Error: combined.csv should be, row by row:")
    for row in EXPECTED:
        print("  " + ",".join(row))
    print("but it is:")
    for row in rows:
        print("  " + ",".join(row))
    sys.exit(1)
print("ok: combined.csv is right")
