// The audit service's public surface: start it, configure it, and the pure chain functions
// other tools (an offline verifier, reconciliation) may reuse.
export { startAudit, auditConfigFromEnv, type AuditConfig, type AuditService } from './service.js';
export {
  GENESIS_HASH,
  canonicalJson,
  canonicalRecord,
  recordHash,
  verifyChain,
  type ChainedRecord,
  type BrokenRecord,
} from './domain/chain.js';
