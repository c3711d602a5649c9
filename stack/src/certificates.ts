// X.509 certificates for the local stack's TLS listeners, made with node:crypto alone: no
// openssl binary, no keytool round trips, the same on every machine that runs Node. A
// certificate is DER we assemble here (RFC 5280) and sign with an ECDSA P-256 key; the result
// is PEM that Kafka (ssl.keystore.type=PEM), PostgreSQL (OpenSSL) and Node's tls all read.
// Development use only: production certificates come from the operator's CA.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

export interface IssuedCertificate {
  /** PEM, one certificate. */
  certificatePem: string;
  /** PEM, PKCS#8, unencrypted. */
  privateKeyPem: string;
}

export interface CertificateAuthority extends IssuedCertificate {
  readonly commonName: string;
  readonly privateKey: KeyObject;
  readonly publicKeyDer: Buffer;
}

export interface ServerCertificateRequest {
  commonName: string;
  /** Host names and IP addresses the certificate is valid for (subjectAltName). */
  hosts: readonly string[];
  /** Validity from now, in days (bounded: these are throw-away development certificates). */
  validityDays?: number;
}

const VALIDITY_DAYS_DEFAULT = 365;
const VALIDITY_DAYS_MAX = 3_650;
const HOSTS_MAX = 32;

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** A self-signed certificate authority that can issue server certificates. */
export function createCertificateAuthority(
  commonName: string,
  validityDays = VALIDITY_DAYS_DEFAULT,
): CertificateAuthority {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
  const der = signedCertificate({
    subject: commonName,
    issuer: commonName,
    subjectPublicKeyDer: publicKeyDer,
    issuerPublicKeyDer: publicKeyDer,
    signingKey: privateKey,
    validityDays,
    extensions: [
      // CA:TRUE, critical; keyCertSign + cRLSign.
      extension(OID.basicConstraints, true, sequence(boolean(true))),
      extension(OID.keyUsage, true, keyUsageBits(0x06)),
    ],
  });
  return {
    commonName,
    privateKey,
    publicKeyDer,
    certificatePem: pem('CERTIFICATE', der),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

/** A server certificate for `hosts`, signed by `ca`. */
export function issueServerCertificate(
  ca: CertificateAuthority,
  request: ServerCertificateRequest,
): IssuedCertificate {
  if (request.hosts.length === 0 || request.hosts.length > HOSTS_MAX) {
    throw new RangeError(`a server certificate names 1..${HOSTS_MAX} hosts`);
  }
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyDer = publicKey.export({ type: 'spki', format: 'der' });
  const der = signedCertificate({
    subject: request.commonName,
    issuer: ca.commonName,
    subjectPublicKeyDer: publicKeyDer,
    issuerPublicKeyDer: ca.publicKeyDer,
    signingKey: ca.privateKey,
    validityDays: request.validityDays ?? VALIDITY_DAYS_DEFAULT,
    extensions: [
      extension(OID.basicConstraints, true, sequence()),
      // digitalSignature (ECDHE key exchange signs with the certificate's key).
      extension(OID.keyUsage, true, keyUsageBits(0x80)),
      extension(OID.extKeyUsage, false, sequence(oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, sequence(...request.hosts.map(generalName))),
    ],
  });
  return {
    certificatePem: pem('CERTIFICATE', der),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

interface CertificateFields {
  subject: string;
  issuer: string;
  subjectPublicKeyDer: Buffer;
  issuerPublicKeyDer: Buffer;
  signingKey: KeyObject;
  validityDays: number;
  extensions: Buffer[];
}

function signedCertificate(fields: CertificateFields): Buffer {
  if (
    !Number.isInteger(fields.validityDays) ||
    fields.validityDays < 1 ||
    fields.validityDays > VALIDITY_DAYS_MAX
  ) {
    throw new RangeError(`validityDays must be an integer in 1..${VALIDITY_DAYS_MAX}`);
  }
  // Valid from an hour ago: a clock a little behind on the verifying side still accepts it.
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + fields.validityDays * 86_400_000);
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f; // a positive INTEGER
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))), // version v3
    integer(serial),
    signatureAlgorithm,
    name(fields.issuer),
    sequence(time(notBefore), time(notAfter)),
    name(fields.subject),
    fields.subjectPublicKeyDer,
    explicit(
      3,
      sequence(
        ...fields.extensions,
        extension(OID.subjectKeyIdentifier, false, octetString(keyId(fields.subjectPublicKeyDer))),
        extension(
          OID.authorityKeyIdentifier,
          false,
          sequence(tagged(0x80, keyId(fields.issuerPublicKeyDer))),
        ),
      ),
    ),
  );
  const signature = sign('sha256', tbs, fields.signingKey); // DER ECDSA-Sig-Value
  return sequence(tbs, signatureAlgorithm, bitString(signature));
}

// --- DER, just what a certificate needs -------------------------------------------------

function tagged(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else if (length < 0x100) header = Buffer.from([tag, 0x81, length]);
  else if (length < 0x10000) header = Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
  else throw new RangeError(`DER value of ${length} bytes is larger than a certificate needs`);
  return Buffer.concat([header, content]);
}

const sequence = (...items: Buffer[]): Buffer => tagged(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tagged(0x31, Buffer.concat(items));
const explicit = (n: number, content: Buffer): Buffer => tagged(0xa0 + n, content);
const octetString = (content: Buffer): Buffer => tagged(0x04, content);
const bitString = (content: Buffer): Buffer =>
  tagged(0x03, Buffer.concat([Buffer.from([0]), content]));
const boolean = (value: boolean): Buffer => tagged(0x01, Buffer.from([value ? 0xff : 0x00]));
const utf8 = (value: string): Buffer => tagged(0x0c, Buffer.from(value, 'utf8'));

function integer(bytes: Buffer): Buffer {
  // DER wants the shortest form: no leading zero byte unless the next byte's top bit is set
  // (a random serial starting 0x00 0x05 is "illegal padding" to OpenSSL), and one when the
  // top bit is set, because DER integers are signed.
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && !(bytes[start + 1]! & 0x80)) start += 1;
  const minimal = bytes.subarray(start);
  return tagged(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const bytes = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk = [part & 0x7f];
    for (let rest = part >>> 7; rest > 0; rest >>>= 7) chunk.unshift((rest & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tagged(0x06, Buffer.from(bytes));
}

function name(commonName: string): Buffer {
  return sequence(set(sequence(oid(OID.commonName), utf8(commonName))));
}

function time(at: Date): Buffer {
  const iso = at.toISOString(); // 2026-03-01T09:30:00.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  // UTCTime up to 2049, GeneralizedTime after (RFC 5280 4.1.2.5).
  return at.getUTCFullYear() < 2050
    ? tagged(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'))
    : tagged(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

/** KeyUsage as a one-byte BIT STRING (bits 0..7), trailing zero bits stated as unused. */
function keyUsageBits(bits: number): Buffer {
  let unused = 0;
  while (unused < 7 && (bits & (1 << unused)) === 0) unused += 1;
  return tagged(0x03, Buffer.from([unused, bits]));
}

function generalName(host: string): Buffer {
  const family = isIP(host);
  if (family === 4) return tagged(0x87, Buffer.from(host.split('.').map(Number)));
  if (family === 6) return tagged(0x87, ipv6Bytes(host));
  return tagged(0x82, Buffer.from(host, 'ascii')); // dNSName
}

function ipv6Bytes(address: string): Buffer {
  const [head = '', tail = ''] = address.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [
        ...headGroups,
        ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'),
        ...tailGroups,
      ]
    : headGroups;
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(parseInt(group, 16), i * 2));
  return bytes;
}

/** A key identifier (RFC 5280 4.2.1.2 allows any unique value): SHA-1 of the public key. */
function keyId(spkiDer: Buffer): Buffer {
  return createHash('sha1').update(spkiDer).digest();
}

function pem(label: string, der: Buffer): string {
  const body = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}
