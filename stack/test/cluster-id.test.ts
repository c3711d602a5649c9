// Kafka's storage tool reads an argument starting with '-' as an option, so a cluster id that
// begins with '-' (one random id in 64) failed the first start of a stack.
import { newClusterId } from '../src/kafka.js';

test('a cluster id never starts with "-": such a draw is replaced by the next one', () => {
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
  expect(draws[0]!.toString('base64url').startsWith('-')).toBe(true);
  let calls = 0;

  const id = newClusterId(() => draws[calls++]!);

  expect(calls).toBe(2);
  expect(id).toBe(draws[1]!.toString('base64url'));
});

test('cluster ids are 22 base64url characters of 16 random bytes', () => {
  const ids = Array.from({ length: 2_000 }, () => newClusterId());
  for (const id of ids) {
    expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(Buffer.from(id, 'base64url')).toHaveLength(16);
  }
  expect(new Set(ids).size).toBe(ids.length);
});
