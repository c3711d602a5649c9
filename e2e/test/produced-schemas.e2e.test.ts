// Every service looks up the schemas of the topics it writes as it starts (in development it
// registers them), so that no message waits on a registration and a schema missing from the
// registry fails the start instead of the first message. The topics a service writes are those
// the contract (contracts/topics.yaml) names it a producer of.
import { platformEndpoints } from '@ledgerline/platform/config';
import { prefixedTopic, type AnyTopic } from '@ledgerline/platform/events/topic';
import { createTestEnvironment, testRoleUrl } from '@ledgerline/testkit/testing';
import { developmentSigningKey } from '@ledgerline/audit/domain/anchor';
import { audit } from '@ledgerline/audit/service';
import { DEVELOPMENT_ADJUSTMENT_CONTROL } from '@ledgerline/ledger/domain/adjustment-control';
import { LEDGER_APP_ROLE, ledger, migrateLedger, startLedger } from '@ledgerline/ledger/service';
import { processor } from '@ledgerline/processor/service';
import { reconciliation } from '@ledgerline/reconciliation/service';
import { allTopics } from '@ledgerline/generated/topics';
import { startPlatform, type InProcessPlatform } from '@ledgerline/testkit/platform';

const registryUrl = platformEndpoints().schemaRegistryUrl;

async function isRegistered(subject: string): Promise<boolean> {
  const response = await fetch(
    `${registryUrl}/subjects/${encodeURIComponent(subject)}/versions/latest`,
    { signal: AbortSignal.timeout(10_000) },
  );
  expect([200, 404]).toContain(response.status);
  return response.status === 200;
}

/** Of every contract topic's subjects under the prefix, those the registry holds. */
async function registeredUnder(topicPrefix: string): Promise<string[]> {
  const subjects = allTopics
    .map((topic) => prefixedTopic(topic as AnyTopic, topicPrefix))
    .flatMap((topic) => [topic.keySubject, topic.valueSubject]);
  const held = await Promise.all(subjects.map(isRegistered));
  return subjects.filter((_, i) => held[i]).sort();
}

function declaredSubjects(topicPrefix: string): string[] {
  const produced: AnyTopic[] = [ledger, processor, reconciliation, audit].flatMap(
    (service) => service.definition.produces?.({ topicPrefix }) ?? [],
  );
  const subjects = produced.flatMap((topic) => [topic.keySubject, topic.valueSubject]);
  return [...new Set(subjects)].sort();
}

describe('the schemas of the topics a service writes', () => {
  let p: InProcessPlatform;

  beforeAll(async () => {
    p = await startPlatform('e2e-produced-schemas', {
      reconciliation: true,
      audit: { signingKey: developmentSigningKey() },
    });
  }, 180_000);

  afterAll(async () => {
    await p?.stop();
  }, 60_000);

  test('are registered by the time the services have started, before any message', async () => {
    const declared = declaredSubjects(p.env.topicPrefix);
    // Every contract topic has a producer among the four: a key and a value subject each.
    expect(declared).toHaveLength(2 * allTopics.length);
    expect(await registeredUnder(p.env.topicPrefix)).toEqual(declared);
  });
});

test('outside development a schema missing from the registry fails the start, naming it', async () => {
  // Topics exist (a deploy created them), but no schema was registered under this prefix.
  const env = await createTestEnvironment('produced-schemas-unregistered', allTopics);
  try {
    await migrateLedger(env.adminDatabaseUrl);
    const outcome = await startLedger({
      databaseUrl: testRoleUrl(env, LEDGER_APP_ROLE),
      kafkaBrokers: env.kafkaBrokers,
      schemaRegistryUrl: env.schemaRegistryUrl,
      topicPrefix: env.topicPrefix,
      port: 0,
      development: false,
      adjustmentControl: DEVELOPMENT_ADJUSTMENT_CONTROL,
    }).then(
      // A ledger that starts anyway is stopped, so that the failure is reported, not a hang.
      async (started) => {
        await started.stop();
        return 'started';
      },
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(
      new RegExp(
        `schema for subject ${env.topicPrefix.replace(/\./g, '\\.')}\\S+ is not registered`,
      ),
    );
    // Nothing was registered on the way.
    expect(await registeredUnder(env.topicPrefix)).toEqual([]);
  } finally {
    await env.cleanup();
  }
}, 60_000);
