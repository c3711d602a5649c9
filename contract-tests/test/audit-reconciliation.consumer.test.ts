// Audit consumes reconciliation's run events and dead letters into its trail.
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  ledgerlineDeadLetterTopic,
  reconciliationDiscrepancyDetectedTopic,
  reconciliationRunCompletedTopic,
} from '@ledgerline/generated/topics';
import { eventFacts } from '@ledgerline/audit/domain/keys';
import { ConsumerMessagePact, m } from '../src/consumer.js';
import { reconciliationFixture as f } from '../src/providers/reconciliation.js';
import { reconciliationStates } from '../src/states.js';

const pact = new ConsumerMessagePact('audit', 'reconciliation');
afterAll(() => pact.publish());

describe('audit records what reconciliation publishes', () => {
  it('a discrepancy is recorded under the payment and account it names', async () => {
    const facts = await pact.receive(
      {
        state: reconciliationStates.discrepancyDetected,
        description: 'a discrepancy detected',
        topic: reconciliationDiscrepancyDetectedTopic,
        key: f.discrepancyId,
        content: {
          eventId: m.uuid('da997a9a-2c54-57d3-9ebd-2e28fb1fda21'),
          correlationId: m.uuid(f.runId),
          paymentId: m.uuid(f.paymentId),
          accountId: m.uuid(f.clearingAccountId),
        },
        nullable: ['transactionId'],
      },
      ({ value }) => eventFacts('reconciliation.discrepancy-detected', value),
    );
    expect(facts).toMatchObject({
      producer: 'reconciliation',
      paymentId: f.paymentId,
      accountId: f.clearingAccountId,
    });
  });

  it('a completed run is recorded under the run', async () => {
    const facts = await pact.receive(
      {
        state: reconciliationStates.runCompleted,
        description: 'a reconciliation run completed',
        topic: reconciliationRunCompletedTopic,
        key: f.runId,
        content: {
          eventId: m.uuid('74e3c0a7-c1db-5c61-ad8b-240fd03ff897'),
          correlationId: m.uuid(f.runId),
        },
      },
      ({ value }) => eventFacts('reconciliation.run-completed', value),
    );
    expect(facts).toMatchObject({ correlationId: f.runId });
  });

  it('a reconciliation dead letter is recorded under the consumer that gave up', async () => {
    const facts = await pact.receive(
      {
        state: reconciliationStates.deadLetter,
        description: 'a dead letter from the fact consumer',
        topic: ledgerlineDeadLetterTopic,
        key: 'f63dcdda-9845-4d3b-a05d-19b1008133f6',
        content: {
          eventId: m.uuid('f63dcdda-9845-4d3b-a05d-19b1008133f6'),
          correlationId: m.uuid('f63dcdda-9845-4d3b-a05d-19b1008133f6'),
          consumer: m.string('reconciliation'),
        },
      },
      ({ value }) => eventFacts('ledgerline.dead-letter', value),
    );
    expect(facts).toMatchObject({ producer: 'reconciliation' });
  });
});
