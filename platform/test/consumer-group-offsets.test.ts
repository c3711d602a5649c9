// What a consumer copies to its group's offsets in Kafka, without Kafka: the newest position of
// each partition it owns, once per copy, and what a failed copy leaves for the next.
import { GroupOffsetCopies, type PartitionOffset } from '../src/consumer-group-offsets.js';

function recorder(outcomes: (Error | undefined)[] = []) {
  const commits: PartitionOffset[][] = [];
  const errors: unknown[] = [];
  const copies = new GroupOffsetCopies(
    async (offsets) => {
      commits.push(offsets);
      const outcome = outcomes.shift();
      if (outcome) throw outcome;
    },
    (error) => errors.push(error),
    0, // copied on demand only
  );
  return { copies, commits, errors };
}

const sorted = (offsets: PartitionOffset[]) =>
  [...offsets].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);

test('the newest position of each owned partition, once', async () => {
  const { copies, commits } = recorder();
  copies.assign({ a: [0, 1], b: [2] });
  copies.positionMoved('a', 0, 5);
  copies.positionMoved('a', 0, 9);
  copies.positionMoved('a', 1, 3);
  copies.positionMoved('b', 2, 7);
  await copies.copyNow();
  expect(commits.map(sorted)).toEqual([
    [
      { topic: 'a', partition: 0, offset: '9' },
      { topic: 'a', partition: 1, offset: '3' },
      { topic: 'b', partition: 2, offset: '7' },
    ],
  ]);
  await copies.copyNow();
  expect(commits).toHaveLength(1); // nothing moved since
});

test('an older position never replaces a newer one', async () => {
  const { copies, commits } = recorder();
  copies.assign({ a: [0] });
  copies.positionMoved('a', 0, 9);
  copies.positionMoved('a', 0, 4);
  await copies.copyNow();
  expect(commits).toEqual([[{ topic: 'a', partition: 0, offset: '9' }]]);
});

test('partitions the member does not own are not copied (Kafka refuses them), until it does', async () => {
  const { copies, commits } = recorder();
  copies.assign({ a: [0] });
  copies.positionMoved('a', 0, 2);
  copies.positionMoved('a', 1, 6);
  await copies.copyNow();
  expect(commits).toEqual([[{ topic: 'a', partition: 0, offset: '2' }]]);
  copies.assign({ a: [1] });
  await copies.copyNow();
  expect(commits[1]).toEqual([{ topic: 'a', partition: 1, offset: '6' }]);
});

test('a failed copy is made again next time, unless the position moved on meanwhile', async () => {
  const refused = new Error('REBALANCE_IN_PROGRESS');
  const { copies, commits, errors } = recorder([refused]);
  copies.assign({ a: [0, 1] });
  copies.positionMoved('a', 0, 3);
  copies.positionMoved('a', 1, 4);
  const failing = copies.copyNow();
  copies.positionMoved('a', 1, 8); // applied while the copy was on its way
  await failing;
  expect(errors).toEqual([refused]);
  await copies.copyNow();
  expect(sorted(commits[1]!)).toEqual([
    { topic: 'a', partition: 0, offset: '3' },
    { topic: 'a', partition: 1, offset: '8' },
  ]);
});

test('one copy at a time: a second asked for meanwhile joins the first', async () => {
  let release: () => void = () => undefined;
  const commits: PartitionOffset[][] = [];
  const copies = new GroupOffsetCopies(
    (offsets) => {
      commits.push(offsets);
      // The first copy waits for the test to release it; later ones end at once.
      return commits.length > 1 ? Promise.resolve() : new Promise<void>((r) => (release = r));
    },
    () => undefined,
    0,
  );
  copies.assign({ a: [0] });
  copies.positionMoved('a', 0, 1);
  const first = copies.copyNow();
  copies.positionMoved('a', 0, 2);
  const second = copies.copyNow();
  release();
  await Promise.all([first, second]);
  expect(commits).toEqual([[{ topic: 'a', partition: 0, offset: '1' }]]);
  await copies.copyNow();
  expect(commits[1]).toEqual([{ topic: 'a', partition: 0, offset: '2' }]);
});

test('with an interval, copies run by themselves until stopped; with 0, never', async () => {
  const commits: PartitionOffset[][] = [];
  const commit = async (offsets: PartitionOffset[]) => {
    commits.push(offsets);
  };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const copies = new GroupOffsetCopies(commit, () => undefined, 20);
  copies.assign({ a: [0] });
  copies.start();
  copies.positionMoved('a', 0, 1);
  await pause(200);
  expect(commits).toEqual([[{ topic: 'a', partition: 0, offset: '1' }]]);
  copies.stop();
  copies.positionMoved('a', 0, 2);
  await pause(200);
  expect(commits).toHaveLength(1);

  const never = new GroupOffsetCopies(commit, () => undefined, 0);
  never.assign({ a: [0] });
  never.start();
  never.positionMoved('a', 0, 3);
  await pause(200);
  expect(commits).toHaveLength(1);
});
