"""A password generator: `python password_generator.py --length 16` prints one password."""

import argparse
import secrets
import string

MIN_LENGTH, MAX_LENGTH = 8, 32
CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation)


def generate_password(length: int = 12) -> str:
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"length must be between {MIN_LENGTH} and {MAX_LENGTH}, not {length}")
    alphabet = "".join(CLASSES)
    chars = [secrets.choice(cls) for cls in CLASSES]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Print a random password.")
    parser.add_argument("--length", type=int, default=12)
    print(generate_password(parser.parse_args().length))
