// Signed checkpoints and the verdict against them, as pure functions: no database, no Kafka.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  checkAgainstAnchor,
  checkpointSignatureValid,
  developmentSigningKey,
  signCheckpoint,
  signingKeyFromPem,
  type PublishedCheckpoint,
  type SigningKey,
} from '../../src/domain/anchor.js';
import { signingKeyFromEnv } from '../../src/config.js';

const key = developmentSigningKey();
const hashOf = (n: number) => n.toString(16).padStart(64, '0');

function published(
  sequence: number,
  offset: number,
  signer: SigningKey = key,
  hash = hashOf(sequence),
): PublishedCheckpoint {
  const signed = signCheckpoint(signer, sequence, hash, new Date('2026-03-01T09:00:00.000Z'));
  // What an impostor would publish: its own signature under the real key's id.
  const claimed = { ...signed, keyId: key.keyId };
  return {
    ...claimed,
    offset: String(offset),
    signatureValid: checkpointSignatureValid(key, claimed),
  };
}

function otherKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return signingKeyFromPem(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString());
}

describe('checkpoint signatures', () => {
  it('a checkpoint signed by the audit key verifies with its public key', () => {
    const c = published(1_000, 0);
    expect(c.signatureValid).toBe(true);
    expect(c.signature).toHaveLength(64);
  });

  it('refuses a checkpoint signed by any other key, even under the audit key id', () => {
    expect(published(1_000, 0, otherKey()).signatureValid).toBe(false);
  });

  it('refuses a signed checkpoint whose sequence, hash or time was changed afterwards', () => {
    const c = published(1_000, 0);
    expect(checkpointSignatureValid(key, { ...c, sequence: 2_000 })).toBe(false);
    expect(checkpointSignatureValid(key, { ...c, hash: hashOf(7) })).toBe(false);
    expect(checkpointSignatureValid(key, { ...c, occurredAt: new Date() })).toBe(false);
    expect(checkpointSignatureValid(key, { ...c, signature: Buffer.alloc(3) })).toBe(false);
  });

  it('derives the same development key every time, and production refuses it', () => {
    expect(developmentSigningKey().keyId).toBe(key.keyId);
    expect(signingKeyFromEnv({ LEDGERLINE_ENV: 'development' }).keyId).toBe(key.keyId);
    expect(() => signingKeyFromEnv({ LEDGERLINE_ENV: 'production' })).toThrow(
      /AUDIT_SIGNING_KEY_FILE is required/,
    );
    const devPem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() =>
      signingKeyFromEnv({ LEDGERLINE_ENV: 'production', AUDIT_SIGNING_KEY: devPem }),
    ).toThrow(/development audit signing key/);
    const own = otherKey();
    const ownPem = own.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(
      signingKeyFromEnv({ LEDGERLINE_ENV: 'production', AUDIT_SIGNING_KEY: ownPem }).keyId,
    ).toBe(own.keyId);
  });

  it('refuses a signing key that is not Ed25519', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => signingKeyFromPem(pem)).toThrow(/Ed25519/);
  });
});

describe('the stored chain against the published checkpoints', () => {
  const signed = [published(5, 0), published(10, 1), published(15, 2)];
  const stored = (head: number, rewrittenFrom = Infinity) =>
    new Map(
      [5, 10, 15]
        .filter((s) => s <= head)
        .map((s) => [s, s >= rewrittenFrom ? hashOf(s + 1) : hashOf(s)] as const),
    );
  const base = { signed, latest: signed[2]!, fromSequence: 1, toSequence: Number.MAX_SAFE_INTEGER };

  it('holds when every signed checkpoint matches the stored chain', () => {
    expect(checkAgainstAnchor({ ...base, storedHeadSequence: 17, storedHashes: stored(17) })).toBe(
      null,
    );
  });

  it('names the first missing sequence when the tail is gone', () => {
    expect(
      checkAgainstAnchor({ ...base, storedHeadSequence: 12, storedHashes: stored(12) }),
    ).toEqual({ kind: 'TAIL_TRUNCATED', sequence: 13, expectedHash: hashOf(15), foundHash: null });
  });

  it('names the first signed checkpoint the rewritten chain no longer matches', () => {
    expect(
      checkAgainstAnchor({ ...base, storedHeadSequence: 17, storedHashes: stored(17, 8) }),
    ).toEqual({
      kind: 'CHECKPOINT_MISMATCH',
      sequence: 10,
      expectedHash: hashOf(10),
      foundHash: hashOf(11),
    });
  });

  it('reports a forged newest checkpoint, and an old one re-published cannot lower the anchor', () => {
    const forged = published(17, 3, otherKey(), hashOf(99));
    expect(
      checkAgainstAnchor({
        ...base,
        latest: forged,
        storedHeadSequence: 17,
        storedHashes: new Map([...stored(17), [17, hashOf(17)]]),
      }),
    ).toEqual({
      kind: 'SIGNATURE_INVALID',
      sequence: 17,
      expectedHash: hashOf(99),
      foundHash: hashOf(17),
    });
    // Checkpoint 5 published again last: the anchor is still the highest signed sequence, 15.
    expect(
      checkAgainstAnchor({
        ...base,
        latest: published(5, 4),
        storedHeadSequence: 12,
        storedHashes: stored(12),
      }),
    ).toMatchObject({ kind: 'TAIL_TRUNCATED', sequence: 13 });
  });

  it('compares only the checkpoints inside the range asked for', () => {
    expect(
      checkAgainstAnchor({
        ...base,
        fromSequence: 1,
        toSequence: 9,
        storedHeadSequence: 17,
        storedHashes: stored(17, 8),
      }),
    ).toBe(null);
  });
});
