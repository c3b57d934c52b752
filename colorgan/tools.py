"""Placeholder replaced by the inference tools."""


def main(argv):
    raise SystemExit("not available yet")
