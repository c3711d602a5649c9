// Stops the stack only when this test run started it: a developer's running stack stays up.
import { stopStack } from '@ledgerline/stack';

export default async function globalTeardown() {
  if (
    process.env.LEDGERLINE_TEST_STARTED_STACK === '1' &&
    process.env.LEDGERLINE_KEEP_STACK !== '1'
  ) {
    await stopStack();
  }
}
