import { ledgerConfigFromEnv } from '../src/config.js';

const development = { LEDGERLINE_ENV: 'development' };

describe('ledgerConfigFromEnv: records per consumer transaction', () => {
  test('2,000 unless LEDGER_CONSUMER_BATCH_SIZE_MAX says otherwise', () => {
    expect(ledgerConfigFromEnv(development).consumerBatchSizeMax).toBe(2_000);
    expect(
      ledgerConfigFromEnv({ ...development, LEDGER_CONSUMER_BATCH_SIZE_MAX: '25' })
        .consumerBatchSizeMax,
    ).toBe(25);
  });

  test.each(['0', '-1', '10001', '2.5', 'many'])('%s is refused, naming the setting', (raw) => {
    expect(() =>
      ledgerConfigFromEnv({ ...development, LEDGER_CONSUMER_BATCH_SIZE_MAX: raw }),
    ).toThrow(`LEDGER_CONSUMER_BATCH_SIZE_MAX=${raw} is not an integer in 1..10000`);
  });
});
