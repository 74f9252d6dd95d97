/**
 * The few WebAuthn checks the daemon makes itself (no attestation, no CBOR): single-use challenges,
 * the client data (type, challenge, origin), the authenticator data (RP id hash, user presence and
 * verification flags, sign counter) and the assertion signature against the public key the browser
 * reported at enrolment (`AuthenticatorAttestationResponse.getPublicKey()`, SPKI DER).
 */
import { createHash, createPublicKey, randomBytes, timingSafeEqual, verify } from 'node:crypto';
import { ServerErrors } from '../errors.js';

/** COSE algorithm ids the daemon accepts: ES256, EdDSA, RS256. */
export const WEBAUTHN_ALGS = [-7, -8, -257] as const;

/** What a challenge is for. */
export type ChallengePurpose = 'enrol' | 'unlock';

/** Issues random challenges and takes each back exactly once, before it expires. */
export class ChallengeStore {
  private readonly live = new Map<string, { purpose: ChallengePurpose; expiresAt: number }>();

  /** @param ttlMs how long a challenge stays valid, in ms (default 2 min). */
  constructor(
    private readonly now: () => number,
    private readonly ttlMs = 120_000,
  ) {}

  /** A new 32-byte challenge (base64url). */
  issue(purpose: ChallengePurpose): string {
    const t = this.now();
    for (const [k, v] of this.live) if (v.expiresAt <= t) this.live.delete(k);
    // SECURITY: at most 64 challenges live at once, so unauthenticated callers cannot grow memory.
    if (this.live.size >= 64) this.live.delete(this.live.keys().next().value as string);
    // SECURITY: 256 bits from the OS CSPRNG; the assertion must sign this exact value.
    const c = randomBytes(32).toString('base64url');
    this.live.set(c, { purpose, expiresAt: t + this.ttlMs });
    return c;
  }

  /** True when `c` was issued for `purpose` and has not expired; the challenge is used up. */
  take(c: string, purpose: ChallengePurpose): boolean {
    const e = this.live.get(c);
    // SECURITY: single use: a replayed assertion finds its challenge gone.
    this.live.delete(c);
    return e !== undefined && e.purpose === purpose && e.expiresAt > this.now();
  }
}

/** Parsed client data of a WebAuthn ceremony. */
export interface ClientData {
  readonly type: string;
  readonly challenge: string;
  readonly origin: string;
}

/** Parses `clientDataJSON` and checks type, challenge and origin. */
export function checkClientData(
  clientDataJSON: Buffer,
  expect: {
    type: 'webauthn.create' | 'webauthn.get';
    challenges: ChallengeStore;
    purpose: ChallengePurpose;
    origins: ReadonlySet<string>;
  },
): ClientData {
  let cd: Partial<ClientData>;
  try {
    cd = JSON.parse(clientDataJSON.toString('utf8')) as Partial<ClientData>;
  } catch {
    throw bad('The WebAuthn client data is not JSON.');
  }
  if (cd.type !== expect.type) throw bad(`The WebAuthn client data type is not ${expect.type}.`);
  if (typeof cd.challenge !== 'string' || !expect.challenges.take(cd.challenge, expect.purpose)) {
    throw bad('The WebAuthn challenge is unknown, used or expired.', 'Ask for a new challenge.');
  }
  // SECURITY: the browser writes the page's origin; only the daemon's own origins may enrol or
  // unlock (a phishing page on another origin gets a different origin here).
  if (typeof cd.origin !== 'string' || !expect.origins.has(cd.origin.toLowerCase())) {
    throw bad(`The WebAuthn ceremony ran on another origin (${String(cd.origin)}).`);
  }
  return cd as ClientData;
}

/** Checks the RP id hash and the UP/UV flags; returns the sign counter. */
export function checkAuthenticatorData(authData: Buffer, rpId: string): number {
  if (authData.length < 37) throw bad('The authenticator data is too short.');
  const rpHash = createHash('sha256').update(rpId, 'utf8').digest();
  // SECURITY: the credential must be scoped to this daemon's RP id.
  if (!timingSafeEqual(authData.subarray(0, 32), rpHash)) {
    throw bad('The authenticator data names another relying party.');
  }
  const flags = authData[32] ?? 0;
  // SECURITY: user presence (0x01) and user verification (0x04, PIN or biometrics) are required.
  if ((flags & 0x01) === 0 || (flags & 0x04) === 0) {
    throw bad(
      'The authenticator did not verify the user.',
      'Use an authenticator with a PIN or biometrics.',
    );
  }
  return authData.readUInt32BE(33);
}

/** Verifies an assertion signature over `authData || SHA-256(clientDataJSON)`. */
export function verifyAssertionSignature(input: {
  publicKeySpki: Buffer;
  alg: number;
  authData: Buffer;
  clientDataJSON: Buffer;
  signature: Buffer;
}): boolean {
  const signed = Buffer.concat([
    input.authData,
    createHash('sha256').update(input.clientDataJSON).digest(),
  ]);
  try {
    const key = createPublicKey({ key: input.publicKeySpki, format: 'der', type: 'spki' });
    if (input.alg === -8) return verify(null, signed, key, input.signature);
    if (input.alg === -7)
      return verify('sha256', signed, { key, dsaEncoding: 'der' }, input.signature);
    if (input.alg === -257) return verify('sha256', signed, key, input.signature);
  } catch {
    return false;
  }
  return false;
}

function bad(message: string, hint?: string) {
  return ServerErrors.create('invalid_request', message, hint === undefined ? {} : { hint });
}
