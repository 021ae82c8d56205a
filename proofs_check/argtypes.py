"""argparse ``type=`` functions of the ``gfgd`` command line (shared by ``cli`` and ``reports``).

Each raises ``argparse.ArgumentTypeError`` with what was expected, so argparse's message names the
flag ("argument --seed: must be a non-negative integer, got '-1'") and the exit status is 2.
Values are refused here, before any work: infinities and NaN where a finite number is meant, zero
or negative counts, seeds numpy would reject.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Callable

Type = Callable[[str], object]


def _fail(expected: str, text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")


def integer(minimum: int | None = None, maximum: int | None = None) -> Type:
    """An int in [minimum, maximum] (either side open when None)."""
    if minimum is not None and maximum is not None:
        want = f"an integer in [{minimum}, {maximum}]"
    elif minimum == 0:
        want = "a non-negative integer"
    elif minimum == 1:
        want = "a positive integer"
    elif minimum is not None:
        want = f"an integer >= {minimum}"
    else:
        want = "an integer"

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise _fail(want, text) from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise _fail(want, text)
        return value

    parse.__name__ = "integer"
    return parse


def real(lo: float | None = None, hi: float | None = None, lo_strict: bool = False) -> Type:
    """A finite float with lo ≤ x ≤ hi (lo < x when ``lo_strict``); inf and nan are refused."""
    if lo is not None:
        want = f"a finite number {'>' if lo_strict else '>='} {lo:g}" + (f" and <= {hi:g}" if hi is not None else "")
    elif hi is not None:
        want = f"a finite number <= {hi:g}"
    else:
        want = "a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise _fail(want, text) from None
        if not math.isfinite(value):
            raise _fail(want, text)
        if lo is not None and (value <= lo if lo_strict else value < lo):
            raise _fail(want, text)
        if hi is not None and value > hi:
            raise _fail(want, text)
        return value

    parse.__name__ = "real"
    return parse


def reals(lo: float | None = None, hi: float | None = None) -> Type:
    """Comma-separated finite numbers (each ≥ lo, ≤ hi when given); at least one."""
    one = real(lo, hi)

    def parse(text: str) -> list[float]:
        parts = [p for p in text.split(",") if p.strip()]
        if not parts:
            raise _fail("comma-separated finite numbers", text)
        out = []
        for p in parts:
            try:
                out.append(one(p))
            except argparse.ArgumentTypeError as e:
                raise argparse.ArgumentTypeError(f"entry {p.strip()!r} of {text!r}: {e}") from None
        return out

    parse.__name__ = "reals"
    return parse


def integers(minimum: int = 1, min_count: int = 1) -> Type:
    """Comma-separated integers ≥ ``minimum``, at least ``min_count`` of them (e.g. widths)."""
    want = f"at least {min_count} comma-separated integers >= {minimum}"

    def parse(text: str) -> tuple[int, ...]:
        try:
            out = tuple(int(p) for p in text.split(",") if p.strip())
        except ValueError:
            raise _fail(want, text) from None
        if len(out) < min_count or any(v < minimum for v in out):
            raise _fail(want, text)
        return out

    parse.__name__ = "integers"
    return parse


seed = integer(0)
positive_int = integer(1)
dps = integer(15, 10_000)  # theory.arrays.MAX_DPS: above it the cost model gives hours per step
_ADDRESS = re.compile(r"^(?:(?P<proto>[a-z]+)://)?(?P<host>\[[0-9a-fA-F:]+\]|[^:/\s]+):(?P<port>\d{1,5})/?$")


def address(text: str) -> tuple[str, str, int]:
    """A scheduler address ``[tcp://]host:port`` -> (text, host, port)."""
    m = _ADDRESS.match(text.strip())
    if not m or not 0 < int(m.group("port")) < 65536:
        raise _fail("an address like tcp://HOST:PORT", text)
    return text.strip(), m.group("host").strip("[]"), int(m.group("port"))


__all__ = ["address", "dps", "integer", "integers", "positive_int", "real", "reals", "seed"]


def unreachable(text: str, host: str, port: int, timeout: float) -> str | None:
    """None if something accepts a TCP connection at host:port within ``timeout`` seconds, else the
    one-line message every verb shows for an unreachable ``--scheduler`` (a usage error, exit 2)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as e:
        return (f"--scheduler {text}: nothing answers at {host}:{port} within {timeout:g} s "
                f"({e.strerror or type(e).__name__})")
