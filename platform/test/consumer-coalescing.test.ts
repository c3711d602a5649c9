// The coalescer's gathering rules, without Kafka: which batches meet in one group, when a group
// is cut, and what each batch is told when its group commits, fails or leaves it out.
import { PartitionCoalescer, type CoalescedOutcome } from '../src/consumer-coalescing.js';

interface Chunk {
  partition: number;
  size: number;
}

function recorder(
  decide: (members: readonly Chunk[]) => ReadonlySet<Chunk> | Error = (m) => new Set(m),
  sizeMax = 100,
) {
  const groups: number[][] = [];
  const coalescer = new PartitionCoalescer<Chunk>(
    async (members) => {
      groups.push(members.map((m) => m.partition));
      const outcome = decide(members);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    (m) => m.size,
    sizeMax,
  );
  return { coalescer, groups };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test('batches announced together meet in one group, even when they hand over in different turns', async () => {
  const { coalescer, groups } = recorder();
  for (let i = 0; i < 3; i++) coalescer.arrive();
  const outcomes: Promise<CoalescedOutcome>[] = [];
  outcomes.push(coalescer.submit({ partition: 0, size: 1 }, true));
  await nextTurn();
  await nextTurn();
  expect(groups).toEqual([]); // two are still on their way
  outcomes.push(coalescer.submit({ partition: 1, size: 1 }, true));
  await nextTurn();
  outcomes.push(coalescer.submit({ partition: 2, size: 1 }, true));
  expect(await Promise.all(outcomes)).toEqual(['applied', 'applied', 'applied']);
  expect(groups).toEqual([[0, 1, 2]]);
});

test('a batch that leaves without handing over does not hold the others', async () => {
  const { coalescer, groups } = recorder();
  for (let i = 0; i < 3; i++) coalescer.arrive();
  const a = coalescer.submit({ partition: 0, size: 1 }, true);
  const b = coalescer.submit({ partition: 1, size: 1 }, true);
  await nextTurn();
  expect(groups).toEqual([]);
  coalescer.leave(); // e.g. its batch was empty, or the consumer stopped
  expect(await Promise.all([a, b])).toEqual(['applied', 'applied']);
  expect(groups).toEqual([[0, 1]]);
});

test('a lone batch is told to apply alone, without a group transaction', async () => {
  const { coalescer, groups } = recorder();
  coalescer.arrive();
  expect(await coalescer.submit({ partition: 4, size: 10 }, true)).toBe('alone');
  expect(groups).toEqual([]);
});

test('groups are cut at the size bound, and the rest form the next group', async () => {
  const { coalescer, groups } = recorder(undefined, 10);
  const sizes = [4, 5, 3, 2, 20];
  for (const _ of sizes) coalescer.arrive();
  const outcomes = sizes.map((size, partition) => coalescer.submit({ partition, size }, true));
  // 4+5 fit, +3 would not; 3+2 fit, +20 would not; 20 alone (bigger than the bound itself).
  expect(await Promise.all(outcomes)).toEqual([
    'applied',
    'applied',
    'applied',
    'applied',
    'alone',
  ]);
  expect(groups).toEqual([
    [0, 1],
    [2, 3],
  ]);
});

test('a failed group sends every member to apply alone', async () => {
  const { coalescer } = recorder(() => new Error('a poison message'));
  coalescer.arrive();
  coalescer.arrive();
  const outcomes = [
    coalescer.submit({ partition: 0, size: 1 }, true),
    coalescer.submit({ partition: 1, size: 1 }, true),
  ];
  expect(await Promise.all(outcomes)).toEqual(['alone', 'alone']);
});

test('members the group left out (stopping or rebalanced) are told to apply alone', async () => {
  const { coalescer } = recorder((members) => new Set(members.filter((m) => m.partition !== 1)));
  for (let i = 0; i < 3; i++) coalescer.arrive();
  const outcomes = [0, 1, 2].map((partition) => coalescer.submit({ partition, size: 1 }, true));
  expect(await Promise.all(outcomes)).toEqual(['applied', 'alone', 'applied']);
});

test('a second chunk of a batch (arrived before) does not count as an arrival again', async () => {
  const { coalescer, groups } = recorder();
  coalescer.arrive();
  coalescer.arrive();
  const first = coalescer.submit({ partition: 0, size: 1 }, true);
  const other = coalescer.submit({ partition: 1, size: 1 }, true);
  expect(await Promise.all([first, other])).toEqual(['applied', 'applied']);
  // Partition 0's next chunk, with partition 2 announced meanwhile.
  coalescer.arrive();
  const second = coalescer.submit({ partition: 0, size: 1 }, false);
  await nextTurn();
  expect(groups).toHaveLength(1); // waits for partition 2
  const third = coalescer.submit({ partition: 2, size: 1 }, true);
  expect(await Promise.all([second, third])).toEqual(['applied', 'applied']);
  expect(groups).toEqual([
    [0, 1],
    [0, 2],
  ]);
});
