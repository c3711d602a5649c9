// How the platform reproduces the states of the console's HTTP pacts (states.ts,
// consoleStates). One world serves every provider, so each state returns every id any of its
// providers' interactions inject: the processor reads `${paymentId}`, the ledger
// `${debitTransactionId}`, audit the payment's trail, reconciliation `${runId}`.
import type { HttpStateHandler } from '../http-verify.js';
import { consoleStates } from '../states.js';

export const consoleStateHandlers: Readonly<Record<string, HttpStateHandler>> = {
  [consoleStates.completedPayment]: async (world) => ({ ...(await world.completedPayment()) }),
  [consoleStates.refundablePayment]: async (world) => ({
    ...(await world.newCompletedPayment()),
  }),
  [consoleStates.openAccount]: async (world) => ({ accountId: await world.newAccount() }),
  [consoleStates.matchedStatement]: async (world) => ({ ...(await world.matchedStatement()) }),
  [consoleStates.deadLetter]: async (world) => ({ ...(await world.deadLetter()) }),
};
