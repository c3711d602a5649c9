import { buildWorkload } from '/work/main/services/ledger/test/support/workload.ts';
import { replayCommands, verifyLedger } from '/work/main/services/ledger/src/domain/ledger-state.ts';
let t = Date.now();
const w = buildWorkload({ seed: 7, accounts: 60, commandsMin: 10_000 });
console.log('gen', Date.now() - t, w.commands.length, w.conflicts, w.redeliveries);
t = Date.now();
const s = replayCommands(w.domain);
verifyLedger(s);
console.log('fold', Date.now() - t, s.transactions.size, s.postings.size);
const steps = new Map(); const reasons = new Map();
for (const r of s.postings.values()) { const d = r.decision; if (d.outcome === 'POSTED') steps.set(d.transaction.step, (steps.get(d.transaction.step) ?? 0) + 1); else reasons.set(d.reason, (reasons.get(d.reason) ?? 0) + 1); }
console.log(steps, reasons);
