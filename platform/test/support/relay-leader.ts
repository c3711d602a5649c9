// A processor outbox relay in a process of its own, for outbox-wakeup.test.ts to freeze with
// SIGSTOP. Arguments: the processor_app database URL and the Kafka brokers (comma-separated).
import { createPool } from '../../src/db.js';
import { createIdempotentProducer, createKafka } from '../../src/kafka.js';
import { createLogger } from '../../src/log.js';
import { OutboxRelay } from '../../src/outbox.js';

const [databaseUrl, brokers] = process.argv.slice(2);
if (databaseUrl === undefined || brokers === undefined) throw new Error('usage: <url> <brokers>');
const pool = createPool(databaseUrl, { max: 2, applicationName: 'relay-frozen-leader' });
const kafka = createKafka(brokers.split(','), 'relay-frozen-leader');
// A short send bound keeps the leader's idle bound at its 10 s floor.
new OutboxRelay({
  pool,
  schema: 'processor',
  createProducer: () => createIdempotentProducer(kafka),
  log: createLogger('relay-frozen-leader'),
  idlePollMs: 200,
  sendTimeoutMs: 1_000,
}).start();
