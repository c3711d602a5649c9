// The partitioner must put every key exactly where Kafka's own clients put it: checked against
// the Java client's published murmur2 vectors and against kafkajs's DefaultPartitioner.
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { defaultPartitioner, murmur2, partitionOfKey } from '../src/partitioner.js';

const metadata = (count: number) =>
  Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: 1,
    replicas: [1],
    isr: [1],
    offlineReplicas: [],
    partitionErrorCode: 0,
  }));

test.each<[string, number]>([
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2
  ['21', -973932308],
  ['foobar', -790332482],
  ['a-little-bit-long-string', -985981536],
  ['a-little-bit-longer-string', -1486304829],
  ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
  ['abc', 479470107],
])('murmur2(%j) is %d, as in the Java client', (key, hash) => {
  expect(murmur2(Buffer.from(key))).toBe(hash);
});

test('every key lands on the partition kafkajs DefaultPartitioner picks', () => {
  const ours = defaultPartitioner();
  const theirs = Partitioners.DefaultPartitioner();
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 80 }),
      fc.integer({ min: 1, max: 64 }),
      (bytes, count) => {
        const message = { key: Buffer.from(bytes), value: null };
        const partitionMetadata = metadata(count);
        const expected = theirs({ topic: 't', partitionMetadata, message });
        expect(ours({ topic: 't', partitionMetadata, message })).toBe(expected);
        expect(partitionOfKey(Buffer.from(bytes), count)).toBe(expected);
      },
    ),
    { numRuns: 3_000 },
  );
});

test('an explicit partition wins, and keyless messages go round-robin over partitions with a leader', () => {
  const partition = defaultPartitioner();
  const partitionMetadata = metadata(4).map((p) =>
    p.partitionId === 2 ? { ...p, leader: -1 } : p,
  );
  expect(
    partition({ topic: 't', partitionMetadata, message: { key: 'k', value: null, partition: 3 } }),
  ).toBe(3);
  const seen = new Set(
    Array.from({ length: 30 }, () =>
      partition({ topic: 't', partitionMetadata, message: { value: null } }),
    ),
  );
  expect([...seen].sort()).toEqual([0, 1, 3]);
});
