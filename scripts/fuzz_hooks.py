"""Schemathesis hooks for scripts/fuzz.sh: put control characters into about half of the generated
bodies, query strings and path parameters, so that every operation is tried with NUL, other C0 controls,
tabs and line breaks in its strings (not only where the random generator happens to produce them).

Deterministic: where and which character is chosen from a checksum of the generated value, so a failing
case reproduces with the same `--generation-deterministic` run.
"""

import atexit
import os
import zlib

import schemathesis

# NUL, other C0 controls, DEL, and the three every free-text field keeps.
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x1b", "\x1f", "\x7f", "\t", "\n", "\r"]


def _seed(value) -> int:
    return zlib.crc32(repr(value).encode("utf-8", "surrogatepass"))


def _poison_str(text: str, seed: int) -> str:
    char = CONTROLS[seed % len(CONTROLS)]
    at = (seed // 7) % (len(text) + 1)
    return text[:at] + char + text[at:]


def _poison(value, seed: int):
    if isinstance(value, str):
        return _poison_str(value, seed)
    if isinstance(value, dict):
        return {k: _poison(v, seed + i) for i, (k, v) in enumerate(value.items())}
    if isinstance(value, list):
        return [_poison(v, seed + i) for i, v in enumerate(value)]
    return value


POISONED = 0


def _maybe(value):
    global POISONED
    if value is None:
        return value
    seed = _seed(value)
    # Half of the cases keep what the generator made, so valid requests still reach deep code paths.
    if seed % 2:
        return value
    POISONED += 1
    return _poison(value, seed)


@atexit.register
def _report():
    # fuzz.sh reads the count, so a run whose hooks were not loaded fails instead of passing quietly.
    path = os.environ.get("FUZZ_HOOKS_REPORT")
    if path:
        with open(path, "w") as out:
            out.write(str(POISONED))


@schemathesis.hook
def map_body(context, body):
    return _maybe(body)


@schemathesis.hook
def map_query(context, query):
    return _maybe(query)


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    return _maybe(path_parameters)
