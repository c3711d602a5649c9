// The offset bookkeeping behind the audit's continuity check, without I/O: whatever mix of
// delivered records, markers or aborted records and missing offsets a partition holds, the
// gaps are exactly the missing offsets between the position and the last delivered record.
import fc from 'fast-check';
import { OffsetContinuity, unexplainedRanges } from '../src/consumer-continuity.js';

type Kind = 'delivered' | 'filtered' | 'missing';

/** The offsets of `kinds` (offset = index + base) of one kind, as inclusive ranges. */
function rangesOf(kinds: readonly Kind[], kind: Kind, base: number): [number, number][] {
  const ranges: [number, number][] = [];
  kinds.forEach((k, i) => {
    if (k !== kind) return;
    const offset = base + i;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === offset - 1) last[1] = offset;
    else ranges.push([offset, offset]);
  });
  return ranges;
}

describe('unexplainedRanges', () => {
  it('is empty when delivered and explained offsets cover the range', () => {
    expect(
      unexplainedRanges(
        10,
        15,
        [10, 12, 15],
        [
          [11, 11],
          [13, 14],
        ],
      ),
    ).toEqual([]);
  });

  it('names each hole once, clipped to the range', () => {
    expect(
      unexplainedRanges(
        10,
        20,
        [12, 20],
        [
          [5, 10],
          [15, 16],
        ],
      ),
    ).toEqual([
      [11, 11],
      [13, 14],
      [17, 19],
    ]);
  });

  it('is the whole range when nothing covers it', () => {
    expect(unexplainedRanges(3, 7, [], [])).toEqual([[3, 7]]);
  });
});

describe('OffsetContinuity', () => {
  it('finds exactly the missing offsets whatever the fetches held', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Kind>('delivered', 'filtered', 'missing'), { maxLength: 60 }),
        fc.nat(1_000),
        (kinds, base) => {
          const continuity = new OffsetContinuity();
          // One fetch per run of present offsets: a missing offset ends a fetch (it is absent
          // from the log), as with records deleted between two fetches.
          let start: number | undefined;
          const flush = (end: number): void => {
            if (start === undefined) return;
            const delivered = kinds
              .slice(start, end)
              .flatMap((k, i) => (k === 'delivered' ? [base + start! + i] : []));
            continuity.noteFetch('t', 0, base + start, base + end - 1, delivered);
            start = undefined;
          };
          kinds.forEach((k, i) => {
            if (k === 'missing') flush(i);
            else start ??= i;
          });
          flush(kinds.length);

          const delivered = rangesOf(kinds, 'delivered', base).flatMap(([a, b]) =>
            Array.from({ length: b - a + 1 }, (_, i) => a + i),
          );
          const lastDelivered = delivered[delivered.length - 1];
          const gaps = continuity.gaps('t', 0, base, delivered);
          if (lastDelivered === undefined) {
            expect(gaps).toEqual([]);
            return;
          }
          const expected = rangesOf(kinds, 'missing', base)
            .filter(([a]) => a < lastDelivered)
            .map(([a, b]) => ({ topic: 't', partition: 0, fromOffset: a, toOffset: b }));
          expect(gaps).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps partitions apart', () => {
    const continuity = new OffsetContinuity();
    continuity.noteFetch('t', 1, 0, 1, [0]); // offset 1 was a marker on partition 1 only
    expect(continuity.gaps('t', 1, 0, [0, 2])).toEqual([]);
    expect(continuity.gaps('t', 0, 0, [0, 2])).toEqual([
      { topic: 't', partition: 0, fromOffset: 1, toOffset: 1 },
    ]);
  });

  it('has nothing to say about a re-delivery behind the position', () => {
    expect(new OffsetContinuity().gaps('t', 0, 50, [10, 11])).toEqual([]);
  });

  it('reads again once per position before a gap is declared', () => {
    const continuity = new OffsetContinuity();
    expect(continuity.shouldReread('t', 0, 7)).toBe(true);
    expect(continuity.shouldReread('t', 0, 7)).toBe(false);
    expect(continuity.shouldReread('t', 1, 7)).toBe(true);
    continuity.advanced('t', 0, 9);
    expect(continuity.shouldReread('t', 0, 9)).toBe(true);
  });

  it('forgets markers behind the position, and only those', () => {
    const continuity = new OffsetContinuity();
    continuity.noteFetch('t', 0, 0, 5, [0, 2, 4]); // 1, 3 and 5 were markers
    continuity.advanced('t', 0, 4);
    expect(continuity.gaps('t', 0, 4, [4, 6])).toEqual([]); // 5 is still explained
    expect(continuity.gaps('t', 0, 0, [0, 2])).toEqual([
      { topic: 't', partition: 0, fromOffset: 1, toOffset: 1 },
    ]);
  });
});
