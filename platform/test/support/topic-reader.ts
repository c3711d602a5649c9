// Reads a test topic from the beginning with a consumer group of its own: what the outbox
// relay really published, in partition order.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { eventually } from '@ledgerline/testkit/testing';

/**
 * The records on `topic` (key, and the value's first 40 characters) once at least `count` have
 * come, and half a second more: a record beyond `count` (doubled or unexpected) is then in the
 * list for the caller's assertion to see.
 */
export async function publishedRecords(
  brokers: string[],
  topic: string,
  count: number,
): Promise<{ key: string; value: string }[]> {
  const reader = new Kafka({
    brokers,
    clientId: 'outbox-test-reader',
    logLevel: logLevel.NOTHING,
  }).consumer({ groupId: `outbox-test-reader-${randomUUID()}`, maxWaitTimeInMs: 50 });
  const seen: { key: string; value: string }[] = [];
  await reader.connect();
  try {
    await reader.subscribe({ topic, fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        seen.push({ key: String(message.key), value: String(message.value).slice(0, 40) });
      },
    });
    await eventually(async () => (seen.length >= count ? true : undefined), `${count} records`);
    // A moment more: anything beyond `count` would be a doubled or unexpected record.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return seen;
  } finally {
    await reader.disconnect();
  }
}
