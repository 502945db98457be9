"""std::mt19937_64 and the Fisher-Yates shuffles of the C++ trainer, so that the
reference draws the same validation split (trainer/text_data.cc
splitValidation) and the same epoch orders (parallel/distributed_sampler.cc)
as Open-AutoGLM, hence the same batches step by step.

Runs once per epoch, outside the per-step path.
"""

from __future__ import annotations

import numpy as np

_MASK64 = (1 << 64) - 1
_N, _M = 312, 156
_MATRIX_A = 0xB5026F5AA96619E9
_UPPER = 0xFFFFFFFF80000000
_LOWER = 0x7FFFFFFF


class MT19937_64:
    """std::mt19937_64 (C++11 [rand.predef]); output fixed by the standard."""

    def __init__(self, seed: int):
        mt = [0] * _N
        mt[0] = seed & _MASK64
        for i in range(1, _N):
            mt[i] = (6364136223846793005 * (mt[i - 1] ^ (mt[i - 1] >> 62)) + i) & _MASK64
        self._mt = mt
        self._i = _N

    def _twist(self) -> None:
        mt = self._mt
        for i in range(_N):
            x = (mt[i] & _UPPER) | (mt[(i + 1) % _N] & _LOWER)
            xa = x >> 1
            if x & 1:
                xa ^= _MATRIX_A
            mt[i] = mt[(i + _M) % _N] ^ xa
        self._i = 0

    def __call__(self) -> int:
        if self._i >= _N:
            self._twist()
        x = self._mt[self._i]
        self._i += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x


def shuffle(values: np.ndarray, seed: int) -> np.ndarray:
    """for i = n..2: swap(order[i-1], order[rng() % i]) with mt19937_64(seed)."""
    order = values.tolist()
    rng = MT19937_64(seed)
    for i in range(len(order), 1, -1):
        j = rng() % i
        order[i - 1], order[j] = order[j], order[i - 1]
    return np.asarray(order, dtype=np.int64)


def split_validation(train: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """trainer/text_data.cc splitValidation: returns (train, val), both sorted."""
    order = shuffle(train, (seed ^ 0x5EED) & _MASK64)
    n_val = int(len(order) * fraction)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def epoch_order(indices: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """parallel/distributed_sampler.cc epochOrder (world 1, shuffle on)."""
    return shuffle(indices, (seed * 1000003 + epoch) & _MASK64)


if __name__ == "__main__":
    r = MT19937_64(5489)
    for _ in range(9999):
        r()
    v = r()
    assert v == 9981545732273789042, v  # the standard's check value
    print("mt19937_64 ok")
