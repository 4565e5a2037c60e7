"""A tiny recorder of named checks for the Python test scripts: one line
per check ("ok   NAME" or "FAIL NAME: DETAIL") and a final
"N passed, N failed". Standard library only.

    from checks import Checks
    check = Checks()
    check("name", condition, "detail shown on failure")
    sys.exit(check.finish())
"""


class Checks:
    def __init__(self):
        self.count = 0
        self.failures = []

    def __call__(self, name, cond, detail=""):
        self.count += 1
        print(("ok   " if cond else "FAIL ") + name +
              ("" if cond else ": " + str(detail)), flush=True)
        if not cond:
            self.failures.append(name)
        return cond

    def finish(self):
        """Print the summary; the exit status: 1 if a check failed."""
        print(f"{self.count - len(self.failures)} passed, "
              f"{len(self.failures)} failed")
        return 1 if self.failures else 0
