/**
 * Passkeys in the browser: WebAuthn create/get with the PRF extension. The PRF output (32 bytes,
 * computed inside the authenticator from its secret and the vault slot's salt) is what unlocks the
 * vault; it goes to the daemon once, over the loopback connection, and this page keeps no copy.
 */
import type { ApiClient } from './api.js';

/** base64url without padding. */
export function b64u(bytes: ArrayBuffer | Uint8Array): string {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url. */
export function fromB64u(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** True when this page can use passkeys (WebAuthn needs a domain name: localhost, not 127.0.0.1). */
export function canUsePasskeys(): boolean {
  return (
    typeof PublicKeyCredential !== 'undefined' &&
    window.isSecureContext &&
    !/^[\d.]+$|^\[/.test(location.hostname)
  );
}

interface PrfResults {
  prf?: { enabled?: boolean; results?: { first?: ArrayBuffer } };
}

/** Creates a passkey with PRF and adds it to the vault as an unlocker. */
export async function enrolPasskey(api: ApiClient, label = 'passkey'): Promise<void> {
  const o = await api.passkeyEnrolOptions();
  const salt = fromB64u(o.prfSalt);
  const cred = (await navigator.credentials.create({
    publicKey: {
      challenge: fromB64u(o.challenge),
      rp: { name: 'VirtOS', id: location.hostname },
      user: { id: fromB64u(o.userId), name: 'VirtOS vault', displayName: 'VirtOS vault' },
      pubKeyCredParams: o.algs.map((alg) => ({ type: 'public-key' as const, alg })),
      // SECURITY: user verification (PIN/biometrics) is required, not just presence.
      authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      excludeCredentials: o.exclude.map((id) => ({
        type: 'public-key' as const,
        id: fromB64u(id),
      })),
      attestation: 'none',
      extensions: { prf: { eval: { first: salt } } } as AuthenticationExtensionsClientInputs,
    },
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error('No passkey was created.');
  const res = cred.response as AuthenticatorAttestationResponse;
  const ext = cred.getClientExtensionResults() as PrfResults;
  if (ext.prf?.enabled === false) throw new Error('This authenticator has no PRF support.');
  let prf = ext.prf?.results?.first;
  if (!prf) {
    // Some authenticators evaluate PRF only on get: ask once more for the same credential. The
    // challenge here is local: the daemon verifies the creation ceremony above, not this one.
    const a = (await navigator.credentials.get({
      publicKey: {
        challenge: crypto.getRandomValues(new Uint8Array(32)),
        rpId: location.hostname,
        allowCredentials: [{ type: 'public-key', id: cred.rawId }],
        userVerification: 'required',
        extensions: { prf: { eval: { first: salt } } } as AuthenticationExtensionsClientInputs,
      },
    })) as PublicKeyCredential | null;
    prf = (a?.getClientExtensionResults() as PrfResults | undefined)?.prf?.results?.first;
  }
  const spki = res.getPublicKey();
  if (!prf || !spki) throw new Error('The authenticator gave no PRF output or public key.');
  await api.passkeyEnrol({
    credentialId: b64u(cred.rawId),
    publicKey: b64u(spki),
    alg: res.getPublicKeyAlgorithm(),
    clientDataJSON: b64u(res.clientDataJSON),
    authenticatorData: b64u(res.getAuthenticatorData()),
    prfSalt: o.prfSalt,
    prfOutput: b64u(prf),
    label,
  });
  // SECURITY: drop our view of the PRF output as soon as it has been sent.
  new Uint8Array(prf).fill(0);
}

/** True when the vault has at least one passkey slot. */
export async function hasPasskeys(api: ApiClient): Promise<boolean> {
  return (await api.passkeyOptions()).credentials.length > 0;
}

/** Unlocks with a passkey: WebAuthn get with PRF against the daemon's challenge. */
export async function unlockWithPasskey(api: ApiClient): Promise<void> {
  const o = await api.passkeyOptions();
  if (!o.credentials.length) throw new Error('No passkey is enrolled for this vault.');
  const evalByCredential: Record<string, { first: BufferSource }> = {};
  for (const c of o.credentials) evalByCredential[c.id] = { first: fromB64u(c.prfSalt) };
  const a = (await navigator.credentials.get({
    publicKey: {
      challenge: fromB64u(o.challenge),
      rpId: location.hostname,
      allowCredentials: o.credentials.map((c) => ({
        type: 'public-key' as const,
        id: fromB64u(c.id),
      })),
      userVerification: 'required',
      extensions: { prf: { evalByCredential } } as AuthenticationExtensionsClientInputs,
    },
  })) as PublicKeyCredential | null;
  if (!a) throw new Error('No passkey was used.');
  const r = a.response as AuthenticatorAssertionResponse;
  const prf = (a.getClientExtensionResults() as PrfResults).prf?.results?.first;
  if (!prf) throw new Error('The authenticator gave no PRF output.');
  try {
    await api.passkeyUnlock({
      credentialId: b64u(a.rawId),
      clientDataJSON: b64u(r.clientDataJSON),
      authenticatorData: b64u(r.authenticatorData),
      signature: b64u(r.signature),
      prfOutput: b64u(prf),
    });
  } finally {
    new Uint8Array(prf).fill(0);
  }
}
