// The trail's anchor outside the database, as plain functions over values: what a checkpoint
// signs, signing and checking with Ed25519 (node:crypto), and the verdict of a stored chain
// against the checkpoints published on Kafka. A database owner can rewrite the trail and its
// stored checkpoints together, recomputing every hash, but cannot sign: what was published
// with the key still says what the chain was.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { uuidv5 } from '@ledgerline/platform/ids';
import { assertHash, canonicalJson } from './chain.js';

/** Domain separation: a signature over a checkpoint can never be taken for anything else. */
export const CHECKPOINT_DOMAIN = 'ledgerline.audit.v1.ChainCheckpoint';
export const SIGNATURE_ALGORITHM = 'Ed25519';
const SIGNATURE_BYTES = 64;

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** sha256 hex of the public key's DER (SubjectPublicKeyInfo). */
  keyId: string;
  publicKeyPem: string;
}

export interface VerifyingKey {
  publicKey: KeyObject;
  keyId: string;
  publicKeyPem: string;
}

/** What a checkpoint attests, without its signature. */
export interface CheckpointClaim {
  eventId: string;
  sequence: number;
  hash: string;
  keyId: string;
  occurredAt: Date;
}

export interface SignedCheckpoint extends CheckpointClaim {
  signature: Buffer;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('hex');
}

function verifyingKeyOf(publicKey: KeyObject): VerifyingKey {
  return {
    publicKey,
    keyId: keyIdOf(publicKey),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** A signing key from a PKCS#8 PEM; anything but an Ed25519 private key is refused. */
export function signingKeyFromPem(pem: string): SigningKey {
  const privateKey = createPrivateKey({ key: pem, format: 'pem' });
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `the audit signing key must be an Ed25519 private key, not ${String(privateKey.asymmetricKeyType)}`,
    );
  }
  return { privateKey, ...verifyingKeyOf(createPublicKey(privateKey)) };
}

// RFC 8410: PKCS#8 of an Ed25519 key is this fixed prefix followed by the 32-byte seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The development key: derived from a public string, so every development run (and every
 * test) signs with the same key, and anyone can forge with it. Production refuses it.
 */
export function developmentSigningKey(): SigningKey {
  const seed = createHash('sha256').update('ledgerline audit development signing key v1').digest();
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  return { privateKey, ...verifyingKeyOf(createPublicKey(privateKey)) };
}

/** The bytes a checkpoint's signature covers: canonical JSON, keys sorted, no whitespace. */
export function checkpointMessage(claim: CheckpointClaim): Buffer {
  return Buffer.from(
    canonicalJson({
      domain: CHECKPOINT_DOMAIN,
      eventId: claim.eventId,
      hash: claim.hash,
      keyId: claim.keyId,
      occurredAt: claim.occurredAt,
      sequence: claim.sequence,
    }),
    'utf8',
  );
}

/** Deterministic: a checkpoint re-published after a crash keeps its id. */
export function checkpointEventId(sequence: number, hash: string): string {
  return uuidv5(`audit-checkpoint:${sequence}:${hash}`);
}

export function signCheckpoint(
  key: SigningKey,
  sequence: number,
  hash: string,
  occurredAt: Date,
): SignedCheckpoint {
  assertHash(hash);
  if (!Number.isSafeInteger(sequence) || sequence < 1) {
    throw new Error(`checkpoint sequence ${sequence} is not a positive integer`);
  }
  const claim: CheckpointClaim = {
    eventId: checkpointEventId(sequence, hash),
    sequence,
    hash,
    keyId: key.keyId,
    occurredAt,
  };
  return { ...claim, signature: sign(null, checkpointMessage(claim), key.privateKey) };
}

/** True only when `key` signed exactly this checkpoint. Never throws on hostile input. */
export function checkpointSignatureValid(key: VerifyingKey, checkpoint: SignedCheckpoint): boolean {
  if (checkpoint.keyId !== key.keyId) return false;
  if (checkpoint.signature.length !== SIGNATURE_BYTES) return false;
  if (Number.isNaN(checkpoint.occurredAt.getTime())) return false;
  try {
    return verify(null, checkpointMessage(checkpoint), key.publicKey, checkpoint.signature);
  } catch {
    return false;
  }
}

/** A checkpoint as read back from the anchor topic, with the verdict on its signature. */
export interface PublishedCheckpoint extends SignedCheckpoint {
  offset: string;
  signatureValid: boolean;
}

export type AnchorBreakKind = 'TAIL_TRUNCATED' | 'CHECKPOINT_MISMATCH' | 'SIGNATURE_INVALID';

export interface AnchorBreak {
  kind: AnchorBreakKind;
  /** The first sequence that is wrong: missing (TAIL_TRUNCATED) or not what was signed. */
  sequence: number;
  /** What the published checkpoint says the hash is. */
  expectedHash: string;
  /** The stored hash at `sequence`; null when there is no record there. */
  foundHash: string | null;
}

export interface AnchorInput {
  /** Every published checkpoint with a valid signature, by ascending sequence. */
  signed: readonly PublishedCheckpoint[];
  /** The newest published checkpoint (highest offset), whatever its signature. */
  latest: PublishedCheckpoint | null;
  /** Newest stored record (sequence 0 when the trail is empty). */
  storedHeadSequence: number;
  /** Stored hash at each signed checkpoint's sequence that is in the trail. */
  storedHashes: ReadonlyMap<number, string>;
  /** Only checkpoints with fromSequence <= sequence <= toSequence are compared. */
  fromSequence: number;
  toSequence: number;
}

/**
 * The stored chain against what was published, in order of gravity:
 * - SIGNATURE_INVALID: the newest published checkpoint was not signed by our key (someone who
 *   can write to the topic but lacks the key tried to move the anchor);
 * - TAIL_TRUNCATED: a signed checkpoint attests a sequence the trail no longer holds (the
 *   newest valid one counts, so re-publishing an old checkpoint cannot lower the anchor);
 * - CHECKPOINT_MISMATCH: the stored record at a signed checkpoint has another hash: the first
 *   such checkpoint is named (the rewrite is at or before it, after the last one that holds).
 */
export function checkAgainstAnchor(input: AnchorInput): AnchorBreak | null {
  const { latest, signed, storedHeadSequence, storedHashes } = input;
  if (latest !== null && !latest.signatureValid) {
    return {
      kind: 'SIGNATURE_INVALID',
      sequence: Math.max(1, latest.sequence),
      expectedHash: latest.hash,
      foundHash: storedHashes.get(latest.sequence) ?? null,
    };
  }
  const highest = signed[signed.length - 1];
  if (highest !== undefined && highest.sequence > storedHeadSequence) {
    // Only the part of the range that reaches the head can show a missing tail.
    if (input.toSequence >= storedHeadSequence) {
      return {
        kind: 'TAIL_TRUNCATED',
        sequence: storedHeadSequence + 1,
        expectedHash: highest.hash,
        foundHash: null,
      };
    }
  }
  for (const checkpoint of signed) {
    if (checkpoint.sequence < input.fromSequence) continue;
    if (checkpoint.sequence > input.toSequence) break;
    const stored = storedHashes.get(checkpoint.sequence);
    if (stored === undefined) continue; // beyond the head: TAIL_TRUNCATED's business
    if (stored !== checkpoint.hash) {
      return {
        kind: 'CHECKPOINT_MISMATCH',
        sequence: checkpoint.sequence,
        expectedHash: checkpoint.hash,
        foundHash: stored,
      };
    }
  }
  return null;
}

export interface AnchorSnapshot {
  /** Valid checkpoints by ascending sequence, one per sequence. */
  signed: readonly PublishedCheckpoint[];
  /** The newest record of the topic (highest offset), whatever its signature. */
  latest: PublishedCheckpoint | null;
}

export class AnchorNotCaughtUpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AnchorNotCaughtUpError';
  }
}

/** Where the published checkpoints come from: read back from Kafka (events/anchor-reader.ts). */
export interface AnchorSource {
  snapshot(timeoutMs: number): Promise<AnchorSnapshot>;
}
