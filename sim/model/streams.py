"""numpy's default random stream, compiled: ``numpy.random.default_rng(seed).random()``, number for number.

Each replication of the Mesa model draws from its own generator, ``default_rng(seed)`` (what
Mesa does with ``rng=seed``): a ``SeedSequence`` turns the seed into a PCG64 state, and
``random()`` turns each 64-bit output into a double. The batched engine draws the same
numbers inside its compiled loop, replication by replication, with the functions below: the
same algorithms as numpy's (``numpy/random/bit_generator.pyx``, ``_pcg64``: SeedSequence with
a pool of four 32-bit words, PCG64 with the XSL-RR output of a 128-bit LCG, doubles from the
top 53 bits). So nothing is drawn up front, and threads draw in parallel. Checked against numpy
in tests/experiment/test_engine.py; seeds are whole numbers in [0, 2**63).

A stream is a ``uint64`` array of four words: the LCG state (high, low) and increment (high, low).
"""

from __future__ import annotations

import warnings

import numpy as np

from sim.model.jit import compiled

# The LCG and the hashes wrap around 2**64 on purpose; run as plain Python (NUMBA_DISABLE_JIT, the first run
# on a machine, :mod:`sim.first_run`) numpy warns at each wrap. Compiled code never does.
warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning, module=__name__)

_M32 = np.uint64(0xFFFFFFFF)
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_PCG_HIGH, _PCG_LOW = np.uint64(2549297995355413924), np.uint64(4865540595714422341)  # PCG's 128-bit multiplier
_U16, _U32, _U11, _U58, _U63, _U64, _ONE = (np.uint64(16), np.uint64(32), np.uint64(11), np.uint64(58),
                                             np.uint64(63), np.uint64(64), np.uint64(1))
_DOUBLE = 1.0 / 9007199254740992.0  # 2**-53


@compiled
def _hashmix(value, hash_const):  # type: ignore[no-untyped-def]
    """SeedSequence's ``hashmix``: (mixed value, next hash constant), 32-bit words in uint64."""
    value = value ^ hash_const
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _U16), hash_const


@compiled
def _mix(x, y):  # type: ignore[no-untyped-def]
    result = (_MIX_L * x - _MIX_R * y) & _M32
    return result ^ (result >> _U16)


@compiled
def _mulhi(a, b):  # type: ignore[no-untyped-def]
    """The high 64 bits of the 128-bit product of two uint64."""
    a0, a1, b0, b1 = a & _M32, a >> _U32, b & _M32, b >> _U32
    low, cross1, cross2 = a0 * b0, a0 * b1, a1 * b0
    middle = (low >> _U32) + (cross1 & _M32) + (cross2 & _M32)
    return a1 * b1 + (cross1 >> _U32) + (cross2 >> _U32) + (middle >> _U32)


@compiled
def _step(stream):  # type: ignore[no-untyped-def]
    """One LCG step: ``state = state * multiplier + increment`` (mod 2**128)."""
    high, low = stream[0], stream[1]
    new_low = low * _PCG_LOW
    new_high = high * _PCG_LOW + low * _PCG_HIGH + _mulhi(low, _PCG_LOW)
    stream[1] = new_low + stream[3]
    stream[0] = new_high + stream[2] + (_ONE if stream[1] < new_low else np.uint64(0))


@compiled
def _mixed_in(pool, word, target, hash_const):  # type: ignore[no-untyped-def]
    """``pool[target] = mix(pool[target], hashmix(word))`` on a pool of four held as a tuple."""
    mixed, hash_const = _hashmix(word, hash_const)
    value = _mix(pool[target], mixed)
    pool = (value if target == 0 else pool[0], value if target == 1 else pool[1], value if target == 2 else pool[2],
            value if target == 3 else pool[3])
    return pool, hash_const


@compiled
def _entropy_pool(value):  # type: ignore[no-untyped-def]
    """SeedSequence's pool of four 32-bit words for an entropy ``value`` < 2**64, and the hash constant after it.

    The value as 32-bit words (one, or two if it needs them) padded with zeros to four, each
    hashed into the pool, then every word mixed into every other (``mix_entropy``).
    """
    h = _INIT_A
    p0, h = _hashmix(value & _M32, h)
    p1, h = _hashmix(value >> _U32, h)  # (a zero word hashes as the missing word would)
    p2, h = _hashmix(np.uint64(0), h)
    p3, h = _hashmix(np.uint64(0), h)
    pool = (p0, p1, p2, p3)
    for source in range(4):
        for target in range(4):
            if source != target:
                pool, h = _mixed_in(pool, pool[source], target, h)
    return pool, h


@compiled
def _word(pool, i, hash_const):  # type: ignore[no-untyped-def]
    """``generate_state``'s ``i``-th 32-bit word: (word, next hash constant)."""
    data = pool[i % 4] ^ hash_const
    hash_const = (hash_const * _MULT_B) & _M32
    data = (data * hash_const) & _M32
    return data ^ (data >> _U16), hash_const


@compiled
def seed_stream(seed, stream):  # type: ignore[no-untyped-def]
    """``stream`` as ``numpy.random.PCG64(seed)`` starts it: ``SeedSequence(seed).generate_state(4, uint64)``
    seeds ``pcg64_srandom_r``."""
    pool, _ = _entropy_pool(np.uint64(seed))
    h = _INIT_B  # eight 32-bit words, read as four little-endian uint64: state (high, low), sequence (high, low)
    d0, h = _word(pool, 0, h)
    d1, h = _word(pool, 1, h)
    d2, h = _word(pool, 2, h)
    d3, h = _word(pool, 3, h)
    d4, h = _word(pool, 4, h)
    d5, h = _word(pool, 5, h)
    d6, h = _word(pool, 6, h)
    d7, h = _word(pool, 7, h)
    state_high, state_low = d0 | (d1 << _U32), d2 | (d3 << _U32)
    sequence_high, sequence_low = d4 | (d5 << _U32), d6 | (d7 << _U32)
    # pcg64_srandom_r: state 0, increment 2 * sequence + 1, step, add the state, step
    stream[0], stream[1] = np.uint64(0), np.uint64(0)
    stream[2], stream[3] = (sequence_high << _ONE) | (sequence_low >> _U63), (sequence_low << _ONE) | _ONE
    _step(stream)
    low = stream[1] + state_low
    stream[0] = stream[0] + state_high + (_ONE if low < state_low else np.uint64(0))
    stream[1] = low
    _step(stream)


@compiled
def random_fill(stream, out):  # type: ignore[no-untyped-def]
    """Fill ``out`` (C-contiguous, any shape) as ``Generator.random(out=out)`` does, advancing ``stream``."""
    values = out.flat
    for i in range(out.size):
        _step(stream)
        x = stream[0] ^ stream[1]
        rot = stream[0] >> _U58
        bits = (x >> rot) | (x << ((_U64 - rot) & _U63))
        values[i] = np.float64(bits >> _U11) * _DOUBLE
    return out


@compiled
def spawned_seeds(root, out):  # type: ignore[no-untyped-def]
    """``out[i]`` = the 63-bit seed of child ``i`` of ``SeedSequence(root)``, as the runner derives replication seeds.

    ``SeedSequence(root).spawn(n)[i]`` is ``SeedSequence(root, spawn_key=(i,))``: its entropy is
    the root's 32-bit words padded to the pool's four, then the word of ``i``; the seed is its
    ``generate_state(1, uint64)`` shifted right by one bit. For 0 <= root < 2**64 and
    n < 2**32 (:func:`sim.experiment.runner.replication_seeds` checks, and uses numpy otherwise).
    """
    root_pool, root_h = _entropy_pool(np.uint64(root))  # the same for every child: computed once
    for i in range(out.shape[0]):
        pool, h = root_pool, root_h
        for target in range(4):  # the spawn key's word, mixed into every word of the pool
            pool, h = _mixed_in(pool, np.uint64(i), target, h)
        h = _INIT_B
        low, h = _word(pool, 0, h)
        high, h = _word(pool, 1, h)
        out[i] = np.int64((low | (high << _U32)) >> _ONE)
    return out
