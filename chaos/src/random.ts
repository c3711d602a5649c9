// A seeded pseudo-random generator (xorshift32 over a splitmix-scrambled seed): the whole fault
// schedule and the load's choices come from it, so `--seed` reproduces a run's decisions.
// Not for anything secret. Pure: no clock, no global state.

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** A new generator whose sequence depends only on this seed and `label` (stable streams). */
  fork(label: string): Random;
}

export const SEED_MAX = 0xffff_ffff;

/** The seed as given on the command line: an integer 0..2^32-1. */
export function parseSeed(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value > SEED_MAX) {
    throw new RangeError(`--seed must be an integer between 0 and ${SEED_MAX}, got '${text}'`);
  }
  return value;
}

/** splitmix32: spreads nearby seeds (1, 2, 3) over the whole state space, never 0. */
function scramble(seed: number): number {
  let z = (seed + 0x9e37_79b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85eb_ca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2_ae35) >>> 0;
  z = (z ^ (z >>> 16)) >>> 0;
  return z === 0 ? 0x6d2b_79f5 : z;
}

function hashLabel(label: string): number {
  let h = 0x811c_9dc5; // FNV-1a
  for (let i = 0; i < label.length; i += 1) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x0100_0193) >>> 0;
  }
  return h;
}

export function createRandom(seed: number): Random {
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > SEED_MAX) {
    throw new RangeError(`seed must be an integer 0..${SEED_MAX}, got ${seed}`);
  }
  let state = scramble(seed);
  const next = (): number => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  return {
    next,
    int(min, max) {
      if (!(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min <= max)) {
        throw new RangeError(`int(${min}, ${max}) needs integers with min <= max`);
      }
      return min + Math.floor(next() * (max - min + 1));
    },
    pick(items) {
      if (items.length === 0) throw new RangeError('pick() from an empty list');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
    chance(p) {
      return next() < p;
    },
    fork(label) {
      return createRandom((scramble(seed) ^ hashLabel(label)) >>> 0);
    },
  };
}
