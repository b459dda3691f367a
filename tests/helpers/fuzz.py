"""Settings shared by the fuzz tests: bounded, no deadlines, one printed seed that reproduces.

Every fuzz test runs from the seed in DOLBOM_FUZZ_SEED (0 when unset, so CI always runs the
same examples and a failure reproduces by running the test again); the seed is printed in
pytest's header. A deeper run: `DOLBOM_FUZZ_SEED=$RANDOM DOLBOM_FUZZ_EXAMPLES=20000 pytest
tests/protocol/test_fuzz_envelope.py tests/device/hal/test_fuzz_codec.py`; a failure prints
the seed (header) and a `@reproduce_failure(...)` blob (print_blob) that replays it exactly.
"""

import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

FUZZ_SEED = int(os.environ.get("DOLBOM_FUZZ_SEED", "0"))
FUZZ_EXAMPLES = int(os.environ.get("DOLBOM_FUZZ_EXAMPLES", "0"))  # 0: each test's own count

F = TypeVar("F", bound=Callable[..., Any])


def fuzz(examples: int) -> Callable[[F], F]:
    """Decorate a @given test: `examples` (or DOLBOM_FUZZ_EXAMPLES) from the shared seed."""

    def wrap(test: F) -> F:
        configured = settings(
            max_examples=FUZZ_EXAMPLES or examples,
            deadline=None,
            database=None,  # the seed alone decides: nothing replayed from a local cache
            print_blob=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(test)
        return seed(FUZZ_SEED)(configured)

    return wrap
