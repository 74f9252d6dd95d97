/**
 * Passkey routes: enrol a WebAuthn credential with the PRF extension as a vault unlocker, and
 * unlock the vault with it. The browser computes the PRF output (32 bytes) from the authenticator's
 * secret and the slot's salt; the vault turns it into the slot's key-encryption key with HKDF
 * (docs/vault-format.md). The daemon issues single-use challenges and checks client data,
 * authenticator data and (for unlock) the assertion signature with the public key stored inside
 * the vault at enrolment.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock, Logger } from '@virtos/core';
import { Vault } from '@virtos/vault';
import { ServerErrors } from '../../errors.js';
import { typed } from '../app.js';
import type { ListenIdentity } from '../../common/request-guard.js';
import { allowedOrigins } from '../../common/request-guard.js';
import { isWrongSecret, type PersonalState, type UnlockedService } from '../personal-state.js';
import type { SessionManager } from '../session-manager.js';
import {
  ChallengeStore,
  WEBAUTHN_ALGS,
  checkAuthenticatorData,
  checkClientData,
  verifyAssertionSignature,
} from '../webauthn.js';
import { ErrorBodySchema } from './schemas.js';

/** What the passkey routes need. */
export interface PasskeyRouteDeps {
  readonly state: PersonalState<UnlockedService>;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly idleS: number;
  /** The daemon's data directory (the vault file is `vault.virtos` in it). */
  readonly home: string;
  /** Where the daemon listens (for the allowed WebAuthn origins). */
  readonly identity: () => ListenIdentity;
  /** The unlocked vault, or undefined. */
  readonly vault: (state: PersonalState<UnlockedService>) => Vault | undefined;
}

/** The vault collection of passkey public keys (by credential id). */
const PASSKEYS = 'shell.passkeys';

interface StoredPasskey {
  readonly credentialId: string;
  readonly publicKey: string;
  readonly alg: number;
  readonly signCount: number;
  readonly createdAt: number;
}

const B64u = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^[A-Za-z0-9_-]+$/);
const EnrolBody = z
  .object({
    credentialId: B64u,
    publicKey: B64u,
    alg: z.number().int(),
    clientDataJSON: B64u,
    authenticatorData: B64u,
    prfSalt: B64u,
    prfOutput: B64u,
    label: z.string().max(64).optional(),
  })
  .strict();
const UnlockBody = z
  .object({
    credentialId: B64u,
    clientDataJSON: B64u,
    authenticatorData: B64u,
    signature: B64u,
    prfOutput: B64u,
  })
  .strict();

const buf = (s: string) => Buffer.from(s, 'base64url');

/** Registers `/api/passkey/*`. */
export function registerPasskeyRoutes(app: FastifyInstance, deps: PasskeyRouteDeps): void {
  const r = typed(app);
  const { state, sessions } = deps;
  const challenges = new ChallengeStore(() => deps.clock.now());
  const vaultPath = join(deps.home, 'vault.virtos');
  const origins = () => allowedOrigins(deps.identity());
  const rpIdOf = (origin: string) => new URL(origin).hostname;

  /** The passkey slots (credential id, PRF salt), readable while locked (public slot fields). */
  const passkeySlots = () => {
    const open = deps.vault(state);
    const v = open ?? Vault.open(vaultPath, { idleLockMs: 0 });
    try {
      return v
        .unlockers()
        .filter((u) => u.kind === 'passkey' && u.isIntact && u.credentialId && u.prfSalt)
        .map((u) => ({ id: u.credentialId as string, prfSalt: u.prfSalt as string }));
    } finally {
      if (!open) v.close();
    }
  };

  r.get(
    '/api/passkey/options',
    {
      config: { isPublic: true },
      schema: {
        summary: 'A challenge and the enrolled passkeys (credential id + PRF salt) for unlock.',
        tags: ['passkey'],
        security: [],
        response: {
          200: z.object({
            challenge: z.string(),
            credentials: z.array(z.object({ id: z.string(), prfSalt: z.string() })),
          }),
          409: ErrorBodySchema,
        },
      },
    },
    async () => {
      if (!state.hasVault()) state.current();
      // The slot list is public metadata of the vault file (docs/vault-format.md).
      return { challenge: challenges.issue('unlock'), credentials: passkeySlots() };
    },
  );

  r.post(
    '/api/passkey/unlock',
    {
      config: { isPublic: true },
      schema: {
        summary: 'Unlock with a passkey assertion and its PRF output; returns a session token.',
        tags: ['passkey'],
        security: [],
        body: UnlockBody,
        response: {
          201: z.object({ token: z.string(), expiresAfterIdleS: z.number() }),
          400: ErrorBodySchema,
          403: ErrorBodySchema,
          429: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      // SECURITY: the same back-off as passphrase unlocks.
      sessions.checkAttempt();
      const b = req.body;
      const clientDataJSON = buf(b.clientDataJSON);
      const authData = buf(b.authenticatorData);
      // SECURITY: challenge (single use, fresh), type and origin are checked before any key work.
      const cd = checkClientData(clientDataJSON, {
        type: 'webauthn.get',
        challenges,
        purpose: 'unlock',
        origins: origins(),
      });
      const signCount = checkAuthenticatorData(authData, rpIdOf(cd.origin));
      const prfOutput = new Uint8Array(buf(b.prfOutput));
      const wasUnlocked = state.isUnlocked;
      try {
        // SECURITY: the PRF output is the secret: the vault derives the slot's KEK from it with
        // HKDF and wipes the buffer afterwards. A wrong output fails the slot's AEAD tag.
        await state.unlock({ kind: 'passkey', prfOutput, credentialId: b.credentialId });
      } catch (e) {
        if (isWrongSecret(e)) sessions.recordFailure();
        throw e;
      } finally {
        prfOutput.fill(0);
      }
      const v = deps.vault(state);
      const stored = v?.records(PASSKEYS).get<StoredPasskey>(b.credentialId);
      // SECURITY: the assertion must be signed by the enrolled credential's key (stored sealed in
      // the vault, so it is only readable now). A PRF output alone, without the authenticator
      // that signs this challenge, does not open a session.
      const ok =
        stored !== undefined &&
        verifyAssertionSignature({
          publicKeySpki: buf(stored.publicKey),
          alg: stored.alg,
          authData,
          clientDataJSON,
          signature: buf(b.signature),
        }) &&
        // SECURITY: a counter that goes backwards means a cloned authenticator (0 = no counter).
        (signCount === 0 || signCount > stored.signCount);
      if (!ok) {
        sessions.recordFailure();
        if (!wasUnlocked) await state.lock();
        throw ServerErrors.create('unauthenticated', 'The passkey assertion did not verify.', {
          hint: 'Use the passkey enrolled for this vault, or unlock with the passphrase.',
        });
      }
      if (v && signCount > 0) {
        await v.records(PASSKEYS).set(b.credentialId, { ...stored, signCount });
      }
      sessions.recordSuccess();
      reply.code(201);
      return { token: sessions.issue(), expiresAfterIdleS: deps.idleS };
    },
  );

  r.post(
    '/api/passkey/enrol/options',
    {
      schema: {
        summary: 'A challenge, user id and fresh PRF salt for creating a passkey.',
        tags: ['passkey'],
        response: {
          200: z.object({
            challenge: z.string(),
            userId: z.string(),
            prfSalt: z.string(),
            algs: z.array(z.number()),
            exclude: z.array(z.string()),
          }),
        },
      },
    },
    async () => {
      const v = deps.vault(state);
      if (!v) state.current();
      return {
        challenge: challenges.issue('enrol'),
        // The WebAuthn user handle: the vault id (not secret; it names the vault, not the person).
        userId: Buffer.from(v?.vaultId ?? 'vault').toString('base64url'),
        // SECURITY: a fresh 32-byte PRF input per passkey slot; stored in the slot's public params.
        prfSalt: randomBytes(32).toString('base64url'),
        algs: [...WEBAUTHN_ALGS],
        exclude: passkeySlots().map((c) => c.id),
      };
    },
  );

  r.post(
    '/api/passkey/enrol',
    {
      schema: {
        summary: 'Adds a passkey unlocker (PRF output) to the vault and stores its public key.',
        tags: ['passkey'],
        body: EnrolBody,
        response: {
          201: z.object({ id: z.string(), credentialId: z.string() }),
          400: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const v = deps.vault(state);
      if (!v) {
        state.current();
        throw ServerErrors.create('locked', 'The vault is locked.');
      }
      const b = req.body;
      const clientDataJSON = buf(b.clientDataJSON);
      // SECURITY: enrolment needs a session token (checked by the app hook) AND a fresh challenge
      // bound to this origin, so a stale or foreign credential creation cannot be replayed.
      const cd = checkClientData(clientDataJSON, {
        type: 'webauthn.create',
        challenges,
        purpose: 'enrol',
        origins: origins(),
      });
      const signCount = checkAuthenticatorData(buf(b.authenticatorData), rpIdOf(cd.origin));
      if (!(WEBAUTHN_ALGS as readonly number[]).includes(b.alg)) {
        throw ServerErrors.create('invalid_request', `Unsupported key algorithm ${b.alg}.`);
      }
      const prfOutput = new Uint8Array(buf(b.prfOutput));
      try {
        const info = v.addPasskey(
          { prfOutput, credentialId: b.credentialId, prfSalt: b.prfSalt },
          b.label ?? 'passkey',
        );
        const stored: StoredPasskey = {
          credentialId: b.credentialId,
          publicKey: b.publicKey,
          alg: b.alg,
          signCount,
          createdAt: deps.clock.now(),
        };
        await v.records(PASSKEYS).set(b.credentialId, stored);
        deps.logger.info('passkey enrolled', { slot: info.id });
        reply.code(201);
        return { id: info.id, credentialId: b.credentialId };
      } finally {
        // SECURITY: the PRF output is key material; wipe our copy.
        prfOutput.fill(0);
      }
    },
  );
}
