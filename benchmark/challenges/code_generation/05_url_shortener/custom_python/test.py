"""UrlShortener: unit tests of url_shortener.py (module and command line)."""

import re
import subprocess
import sys
import unittest

try:
    from url_shortener import retrieve_url, shorten_url
except Exception as e:  # missing or broken: say so rather than dump a traceback
    print(f"Error: cannot import shorten_url and retrieve_url from url_shortener.py: {type(e).__name__}: {e}")
    sys.exit(1)


class TestUrlShortener(unittest.TestCase):
    def test_round_trip(self) -> None:
        url = "https://www.example.org/harbour/timetable?day=monday"
        self.assertEqual(retrieve_url(shorten_url(url)), url)

    def test_same_url_same_code_and_different_urls_differ(self) -> None:
        a = shorten_url("https://example.org/a")
        self.assertEqual(a, shorten_url("https://example.org/a"))
        self.assertNotEqual(a, shorten_url("https://example.org/b"))

    def test_code_is_short_letters_and_digits(self) -> None:
        code = shorten_url("https://example.org/" + "x" * 500)
        self.assertRegex(code, re.compile(r"^[A-Za-z0-9]{1,8}$"))

    def test_unknown_code_raises_key_error(self) -> None:
        with self.assertRaises(KeyError):
            retrieve_url("nosuch99")

    def test_codes_persist_across_processes(self) -> None:
        url = "https://example.org/persisted/across/runs"
        shorten = subprocess.run([sys.executable, "url_shortener.py", "shorten", url], capture_output=True,
                                 text=True, timeout=30)
        self.assertEqual(shorten.returncode, 0, shorten.stderr)
        code = shorten.stdout.strip()
        got = subprocess.run([sys.executable, "url_shortener.py", "retrieve", code], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(got.stdout.strip(), url)


if __name__ == "__main__":
    unittest.main()
