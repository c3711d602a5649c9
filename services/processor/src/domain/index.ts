// The processor's pure domain: payment and refund rules, the request fingerprint, the saga.
export * from './model.js';
export * from './payment-rules.js';
export * from './request-hash.js';
export * from './saga.js';
