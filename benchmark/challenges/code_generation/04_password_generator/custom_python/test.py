"""PasswordGenerator: checks password_generator.py as a module and as a script."""

import string
import subprocess
import sys

try:
    from password_generator import generate_password
except Exception as e:  # missing or broken: say so rather than dump a traceback
    print(f"Error: cannot import generate_password from password_generator.py: {type(e).__name__}: {e}")
    sys.exit(1)

errors = []
for length in (8, 12, 20, 32):
    for _ in range(25):
        pw = generate_password(length)
        if len(pw) != length:
            errors.append(f"generate_password({length}) gave {len(pw)} characters")
        for name, chars in (("lower-case letter", string.ascii_lowercase), ("upper-case letter",
                            string.ascii_uppercase), ("digit", string.digits), ("punctuation", string.punctuation)):
            if not any(c in chars for c in pw):
                errors.append(f"{pw!r} has no {name}")
if len(generate_password()) != 12:
    errors.append("the default length is not 12")
if len({generate_password(16) for _ in range(20)}) < 20:
    errors.append("passwords repeat: they are not random")
for bad in (7, 33):
    try:
        generate_password(bad)
        errors.append(f"generate_password({bad}) did not raise ValueError")
    except ValueError:
        pass
run = subprocess.run([sys.executable, "password_generator.py", "--length", "16"], capture_output=True, text=True,
                     timeout=30)
out = run.stdout.strip().splitlines()
if run.returncode != 0 or len(out) != 1 or len(out[0]) != 16:
    errors.append(f"the script printed {run.stdout!r} (exit {run.returncode}), expected one 16-character password")
for e in dict.fromkeys(errors):
    print(f"Error: {e}")
if not errors:
    print("ok: password_generator.py works")
sys.exit(1 if errors else 0)
