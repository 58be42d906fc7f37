// SCRAM-SHA-256 (RFC 5802 + RFC 7677) the way PostgreSQL speaks it: no channel binding (we never
// advertise SCRAM-SHA-256-PLUS), no authzid, the username attribute ignored by the server (the startup
// packet's user counts), 18-byte random nonces and verifiers in pg_authid's text format.
//
// ScramServer authenticates clients of the proxy; ScramClient logs the proxy in to the Postgres shards.
// Messages are handled as latin1 strings so that every byte survives untouched into the AuthMessage
// (the server hashes exactly the bytes the client sent). Secrets live in #private fields so that
// logging one of these objects cannot print them, and no error message ever contains a password,
// proof, signature or key.

import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProxyError } from '../../errors.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';

/** What pg_authid.rolpassword stores for a SCRAM role, decoded. */
export interface ScramSecret {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const KEY_LENGTH = 32; // SHA-256 output
const DEFAULT_SALT_LENGTH = 16; // Postgres' SCRAM_DEFAULT_SALT_LEN
const DEFAULT_ITERATIONS = 4096; // Postgres' scram_iterations default
const NONCE_BYTES = 18; // Postgres' SCRAM_RAW_NONCE_LEN
/** The most iterations ScramClient will compute for a server: more is a denial of service, not security. */
const MAX_CLIENT_ITERATIONS = 1_000_000;
const MAX_VERIFIER_ITERATIONS = 0x7fffffff;

// ---------------------------------------------------------------------------------------------------
// SASLprep (RFC 4013 profile of RFC 3454 stringprep), as PostgreSQL's src/common/saslprep.c applies it:
// a pure-ASCII password is used as is; otherwise map (non-ASCII spaces to U+0020, "commonly mapped to
// nothing" characters removed), NFKC-normalize, and if the result is empty, contains a prohibited or
// unassigned code point, or breaks the bidi rule, fall back to the original password unchanged
// (Postgres does not reject such passwords, it just skips normalization).
//
// Approximations, all in the "is it prohibited?" checks (mapping and normalization are exact up to
// the Unicode version of the NFKC tables, which differs between Node's ICU and Postgres anyway):
//  - A.1 (unassigned in Unicode 3.2) is taken as "unassigned today" (\p{Cn}) plus every supplementary
//    code point outside the blocks Unicode 3.2 had assigned. BMP characters assigned after 3.2 are thus
//    wrongly accepted; this matters only for a password that also contains a character NFKC or the
//    mapping step changes.
//  - D.2 (bidi class L) is approximated by letters and spacing marks (\p{L}, \p{Mc}) that are not in
//    D.1; it only matters for passwords containing right-to-left characters.
// Tables are from RFC 3454 appendices B.1, C and D.1. Checked code point by code point against the
// Unicode 3.2 stringprep tables: the only differences are the ~6,000 BMP code points assigned after
// Unicode 3.2 and ~800 (digits of Indic scripts, Tibetan marks, musical symbols...) whose bidi class
// the D.2 approximation gets wrong. Real PostgreSQL 15 verifiers for the mapping, NFKC and fallback
// cases are pinned in test/unit/auth/scram.test.ts.
// ---------------------------------------------------------------------------------------------------

type CodeRange = readonly [number, number];

function inRanges(cp: number, ranges: readonly CodeRange[]): boolean {
  for (const [lo, hi] of ranges) {
    if (cp < lo) return false; // ranges are sorted
    if (cp <= hi) return true;
  }
  return false;
}

/** C.1.2 */
const NON_ASCII_SPACE: readonly CodeRange[] = [
  [0x00a0, 0x00a0], [0x1680, 0x1680], [0x2000, 0x200b], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000],
];
/** B.1 */
const MAPPED_TO_NOTHING: readonly CodeRange[] = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x1806, 0x1806], [0x180b, 0x180d], [0x200b, 0x200d], [0x2060, 0x2060],
  [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];
/** C.1.2, C.2.1, C.2.2, C.3, C.5, C.6, C.7, C.8, C.9 merged (C.4 non-characters are tested separately). */
const PROHIBITED: readonly CodeRange[] = [
  [0x0000, 0x001f], [0x007f, 0x00a0], [0x0340, 0x0341], [0x06dd, 0x06dd], [0x070f, 0x070f], [0x1680, 0x1680],
  [0x180e, 0x180e], [0x2000, 0x200f], [0x2028, 0x202f], [0x205f, 0x2063], [0x206a, 0x206f], [0x2ff0, 0x2ffb],
  [0x3000, 0x3000], [0xd800, 0xf8ff], [0xfeff, 0xfeff], [0xfff9, 0xfffd], [0x1d173, 0x1d17a], [0xe0001, 0xe0001],
  [0xe0020, 0xe007f], [0xf0000, 0xffffd], [0x100000, 0x10fffd],
];
/** D.1: characters of bidi class R or AL. */
const RAND_AL: readonly CodeRange[] = [
  [0x05be, 0x05be], [0x05c0, 0x05c0], [0x05c3, 0x05c3], [0x05d0, 0x05ea], [0x05f0, 0x05f4], [0x061b, 0x061b],
  [0x061f, 0x061f], [0x0621, 0x063a], [0x0640, 0x064a], [0x066d, 0x066f], [0x0671, 0x06d5], [0x06dd, 0x06dd],
  [0x06e5, 0x06e6], [0x06fa, 0x06fe], [0x0700, 0x070d], [0x0710, 0x0710], [0x0712, 0x072c], [0x0780, 0x07a5],
  [0x07b1, 0x07b1], [0x200f, 0x200f], [0xfb1d, 0xfb1d], [0xfb1f, 0xfb28], [0xfb2a, 0xfb36], [0xfb38, 0xfb3c],
  [0xfb3e, 0xfb3e], [0xfb40, 0xfb41], [0xfb43, 0xfb44], [0xfb46, 0xfbb1], [0xfbd3, 0xfd3d], [0xfd50, 0xfd8f],
  [0xfd92, 0xfdc7], [0xfdf0, 0xfdfc], [0xfe70, 0xfe74], [0xfe76, 0xfefc],
];
/** Supplementary blocks with characters assigned in Unicode 3.2 (holes are caught by \p{Cn}). */
const SUPPLEMENTARY_ASSIGNED_IN_3_2: readonly CodeRange[] = [
  [0x10300, 0x1034a], [0x10400, 0x1044d], [0x1d000, 0x1d7ff], [0x20000, 0x2a6d6], [0x2f800, 0x2fa1d],
  [0xe0001, 0xe007f], [0xf0000, 0x10ffff],
];
const UNASSIGNED = /\p{Cn}/u;
const LEFT_TO_RIGHT = /[\p{L}\p{Mc}]/u;
// eslint-disable-next-line no-control-regex
const ASCII_ONLY = /^[\x00-\x7f]*$/;

function isProhibited(cp: number): boolean {
  if (inRanges(cp, PROHIBITED)) return true;
  if ((cp & 0xfffe) === 0xfffe || (cp >= 0xfdd0 && cp <= 0xfdef)) return true; // C.4
  if (UNASSIGNED.test(String.fromCodePoint(cp))) return true; // A.1, approximately
  return cp >= 0x10000 && !inRanges(cp, SUPPLEMENTARY_ASSIGNED_IN_3_2);
}

/** The SASLprep'd form of a password, or the password itself where Postgres would not normalize it. */
export function saslprep(password: string): string {
  if (ASCII_ONLY.test(password)) return password;
  let mapped = '';
  for (const ch of password) {
    const cp = ch.codePointAt(0) ?? 0;
    if (inRanges(cp, NON_ASCII_SPACE)) mapped += ' ';
    else if (!inRanges(cp, MAPPED_TO_NOTHING)) mapped += ch;
  }
  if (mapped === '') return password;
  const normalized = mapped.normalize('NFKC');
  const cps = Array.from(normalized, (ch) => ch.codePointAt(0) ?? 0);
  if (cps.some(isProhibited)) return password;
  if (cps.some((cp) => inRanges(cp, RAND_AL))) {
    const first = cps[0] ?? 0;
    const last = cps[cps.length - 1] ?? 0;
    if (!inRanges(first, RAND_AL) || !inRanges(last, RAND_AL)) return password;
    if (cps.some((cp) => !inRanges(cp, RAND_AL) && LEFT_TO_RIGHT.test(String.fromCodePoint(cp)))) return password;
  }
  return normalized;
}

// ---------------------------------------------------------------------------------------------------
// Key derivation and the verifier text format
// ---------------------------------------------------------------------------------------------------

function hmac(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(Buffer.from(saslprep(password), 'utf8'), salt, iterations, KEY_LENGTH, 'sha256');
}

/** Derives the secret Postgres would store for `password` (a random 16-byte salt unless one is given). */
export function scramSecretFromPassword(
  password: string,
  salt: Buffer = randomBytes(DEFAULT_SALT_LENGTH),
  iterations = DEFAULT_ITERATIONS,
): ScramSecret {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError('SCRAM iteration count must be a positive integer');
  if (salt.length === 0) throw new RangeError('SCRAM salt must not be empty');
  const salted = saltedPassword(password, salt, iterations);
  return {
    iterations,
    salt: Buffer.from(salt),
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (standard alphabet, padded, no whitespace); null when the text is not base64. */
function decodeBase64(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

/** Decodes pg_authid's `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`; null for anything else. */
export function parseScramVerifier(text: string): ScramSecret | null {
  const m = /^SCRAM-SHA-256\$([0-9]{1,10}):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(text);
  if (m === null) return null;
  const [, iterText = '', saltText = '', storedText = '', serverText = ''] = m;
  const iterations = Number(iterText);
  if (iterations < 1 || iterations > MAX_VERIFIER_ITERATIONS) return null;
  const salt = decodeBase64(saltText);
  const storedKey = decodeBase64(storedText);
  const serverKey = decodeBase64(serverText);
  if (salt === null || salt.length === 0) return null;
  if (storedKey?.length !== KEY_LENGTH || serverKey?.length !== KEY_LENGTH) return null;
  return { iterations, salt, storedKey, serverKey };
}

/** The pg_authid text form of a secret (inverse of parseScramVerifier). */
export function formatScramVerifier(secret: ScramSecret): string {
  return (
    `SCRAM-SHA-256$${secret.iterations}:${secret.salt.toString('base64')}` +
    `$${secret.storedKey.toString('base64')}:${secret.serverKey.toString('base64')}`
  );
}

// ---------------------------------------------------------------------------------------------------
// Message parsing shared by both sides
// ---------------------------------------------------------------------------------------------------

/** RFC 5802 `printable`: %x21-2B / %x2D-7E (visible ASCII except ','). */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const ATTRIBUTE = /^[A-Za-z]=/;

function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64');
}

function checkInjectedNonce(nonce: string): string {
  if (!PRINTABLE.test(nonce)) throw new RangeError('SCRAM nonce must be non-empty printable ASCII without ","');
  return nonce;
}

/** The value of `attr=value`, or null when `part` is not that attribute. */
function attributeValue(part: string | undefined, attr: string): string | null {
  return part !== undefined && part.startsWith(`${attr}=`) ? part.slice(2) : null;
}

// ---------------------------------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------------------------------

export interface ScramServerOptions {
  /** The server's part of the nonce; random unless given. For test vectors only. */
  nonce?: string;
}

type ServerState =
  | { step: 'awaiting-first' }
  | { step: 'awaiting-final'; gs2Header: string; clientFirstBare: string; serverFirst: string; nonce: string }
  | { step: 'done' }
  | { step: 'failed' };

/**
 * One SCRAM-SHA-256 exchange with one client, as a strict state machine: client-first, then
 * client-final, then nothing. Any error ends the exchange; later calls fail with 08P01.
 */
export class ScramServer {
  readonly mechanisms: string[] = [SCRAM_SHA_256];
  readonly #user: string;
  readonly #secret: ScramSecret;
  readonly #serverNonce: string;
  #state: ServerState = { step: 'awaiting-first' };

  constructor(user: string, secret: ScramSecret, options: ScramServerOptions = {}) {
    this.#user = user;
    this.#secret = secret;
    this.#serverNonce = options.nonce === undefined ? newNonce() : checkInjectedNonce(options.nonce);
  }

  /** True once the client's proof has been verified. */
  get completed(): boolean {
    return this.#state.step === 'done';
  }

  /** Handles the SASLInitialResponse (mechanism + client-first-message); returns the server-first-message. */
  handleClientFirst(mechanism: string, data: Buffer): Buffer {
    return this.#guard(() => {
      if (this.#state.step !== 'awaiting-first') throw malformed('unexpected SCRAM client-first-message');
      if (mechanism !== SCRAM_SHA_256) {
        throw ProxyError.protocolViolation('client selected an invalid SASL authentication mechanism');
      }
      const message = clientMessage(data);

      // gs2-header: gs2-cbind-flag "," [authzid] ","
      const flag = message[0];
      if (flag === 'p') {
        throw ProxyError.protocolViolation(
          'malformed SCRAM message: the client requested channel binding, but SCRAM-SHA-256-PLUS was not offered',
        );
      }
      if ((flag !== 'n' && flag !== 'y') || message[1] !== ',') throw malformed('unexpected channel-binding flag in client-first-message');
      if (message[2] === 'a') throw ProxyError.protocolViolation('client uses authorization identity, but it is not supported');
      if (message[2] !== ',') throw malformed('unexpected attribute in client-first-message');
      const gs2Header = message.slice(0, 3);
      const clientFirstBare = message.slice(3);

      // client-first-message-bare: [reserved-mext ","] username "," nonce ["," extensions]
      const parts = clientFirstBare.split(',');
      if (attributeValue(parts[0], 'm') !== null) throw ProxyError.protocolViolation('client requires an unsupported SCRAM extension');
      if (attributeValue(parts[0], 'n') === null) throw malformed('expected username attribute "n" in client-first-message');
      // The username is deliberately ignored: the startup packet's user is the one being authenticated.
      const clientNonce = attributeValue(parts[1], 'r');
      if (clientNonce === null) throw malformed('expected nonce attribute "r" in client-first-message');
      if (!PRINTABLE.test(clientNonce)) throw malformed('invalid nonce in client-first-message');
      if (!parts.slice(2).every((p) => ATTRIBUTE.test(p))) throw malformed('invalid extension attribute in client-first-message');

      const nonce = clientNonce + this.#serverNonce;
      const serverFirst = `r=${nonce},s=${this.#secret.salt.toString('base64')},i=${this.#secret.iterations}`;
      this.#state = { step: 'awaiting-final', gs2Header, clientFirstBare, serverFirst, nonce };
      return Buffer.from(serverFirst, 'latin1');
    });
  }

  /**
   * Handles the client-final-message; returns the server-final-message (`v=<ServerSignature>`).
   * Throws 28P01 when the proof is wrong and 08P01 when the message is malformed.
   */
  handleClientFinal(data: Buffer): Buffer {
    return this.#guard(() => {
      const state = this.#state;
      if (state.step !== 'awaiting-final') throw malformed('unexpected SCRAM client-final-message');
      const message = clientMessage(data);

      // client-final-message: channel-binding "," nonce ["," extensions] "," proof
      const parts = message.split(',');
      const binding = attributeValue(parts[0], 'c');
      if (binding === null) throw malformed('expected channel-binding attribute "c" in client-final-message');
      const bindingData = decodeBase64(binding);
      if (bindingData === null || !bindingData.equals(Buffer.from(state.gs2Header, 'latin1'))) {
        throw ProxyError.protocolViolation('unexpected SCRAM channel-binding attribute in client-final-message');
      }
      const nonce = attributeValue(parts[1], 'r');
      if (nonce === null) throw malformed('expected nonce attribute "r" in client-final-message');
      if (nonce !== state.nonce) throw ProxyError.protocolViolation('SCRAM nonce mismatch');
      const last = parts.length - 1;
      if (last < 2 || !parts.slice(2, last).every((p) => ATTRIBUTE.test(p))) {
        throw malformed('expected proof attribute "p" at the end of client-final-message');
      }
      const proofText = attributeValue(parts[last], 'p');
      if (proofText === null) throw malformed('expected proof attribute "p" at the end of client-final-message');
      const proof = decodeBase64(proofText);
      if (proof?.length !== KEY_LENGTH) throw malformed('malformed proof in client-final-message');

      const withoutProof = message.slice(0, message.length - proofText.length - 3);
      const authMessage = Buffer.from(`${state.clientFirstBare},${state.serverFirst},${withoutProof}`, 'latin1');
      const clientKey = xor(proof, hmac(this.#secret.storedKey, authMessage));
      const storedKey = this.#secret.storedKey;
      const candidate = sha256(clientKey);
      if (storedKey.length !== candidate.length || !timingSafeEqual(candidate, storedKey)) {
        throw ProxyError.passwordFailed(this.#user, SCRAM_SHA_256);
      }
      this.#state = { step: 'done' };
      return Buffer.from(`v=${hmac(this.#secret.serverKey, authMessage).toString('base64')}`, 'latin1');
    });
  }

  #guard<T>(step: () => T): T {
    try {
      return step();
    } catch (err) {
      this.#state = { step: 'failed' };
      throw err;
    }
  }
}

function malformed(detail: string): ProxyError {
  return ProxyError.protocolViolation(`malformed SCRAM message: ${detail}`);
}

function clientMessage(data: Buffer): string {
  if (data.length === 0) throw malformed('empty message');
  if (data.includes(0)) throw malformed('message contains a zero byte');
  return data.toString('latin1');
}

// ---------------------------------------------------------------------------------------------------
// Client side
// ---------------------------------------------------------------------------------------------------

export interface ScramClientOptions {
  /** The client nonce; random unless given. For test vectors only. */
  nonce?: string;
  /** Username for the 'n=' attribute. Postgres ignores it, so libpq (and the default here) sends ''. */
  username?: string;
  /** Server name for error messages (ProxyError.backendUnavailable); default 'server'. */
  node?: string;
}

type ClientState =
  | { step: 'initial' }
  | { step: 'first-sent'; clientFirstBare: string }
  | { step: 'final-sent'; serverSignature: Buffer }
  | { step: 'done' }
  | { step: 'failed' };

/**
 * The proxy's side of a SCRAM-SHA-256 login to a Postgres server: clientFirst(), then
 * handleServerFirst() with the AuthenticationSASLContinue data, then verifyServerFinal() with the
 * AuthenticationSASLFinal data. Check `completed` before accepting AuthenticationOk, so that a server
 * cannot skip proving that it knows the password.
 */
export class ScramClient {
  readonly mechanism = SCRAM_SHA_256;
  #password: string;
  readonly #nonce: string;
  readonly #username: string;
  readonly #node: string;
  #state: ClientState = { step: 'initial' };

  constructor(password: string, options: ScramClientOptions = {}) {
    this.#password = password;
    this.#nonce = options.nonce === undefined ? newNonce() : checkInjectedNonce(options.nonce);
    this.#username = (options.username ?? '').replaceAll('=', '=3D').replaceAll(',', '=2C');
    this.#node = options.node ?? 'server';
  }

  /** True once the server's signature has been verified. */
  get completed(): boolean {
    return this.#state.step === 'done';
  }

  /** The client-first-message for SASLInitialResponse: `n,,n=,r=<nonce>`. */
  clientFirst(): Buffer {
    if (this.#state.step !== 'initial') throw this.#fail('client-first-message already sent');
    // Kept as latin1 text of the UTF-8 bytes, like every message, so the AuthMessage hashes the bytes sent.
    const clientFirstBare = Buffer.from(`n=${this.#username},r=${this.#nonce}`, 'utf8').toString('latin1');
    this.#state = { step: 'first-sent', clientFirstBare };
    return Buffer.from(`n,,${clientFirstBare}`, 'latin1');
  }

  /** Takes the server-first-message (AuthenticationSASLContinue) and returns the client-final-message. */
  handleServerFirst(data: Buffer): Buffer {
    const state = this.#state;
    if (state.step !== 'first-sent') throw this.#fail('unexpected server-first-message');
    const message = this.#serverMessage(data, 'server-first-message');
    const parts = message.split(',');
    if (attributeValue(parts[0], 'm') !== null) throw this.#fail('server requires an unsupported extension');
    const nonce = attributeValue(parts[0], 'r');
    if (nonce === null) throw this.#fail('nonce missing from server-first-message');
    if (!PRINTABLE.test(nonce) || nonce.length <= this.#nonce.length || !nonce.startsWith(this.#nonce)) {
      throw this.#fail('invalid nonce in server-first-message');
    }
    const saltText = attributeValue(parts[1], 's');
    if (saltText === null) throw this.#fail('salt missing from server-first-message');
    const salt = decodeBase64(saltText);
    if (salt === null || salt.length === 0) throw this.#fail('invalid salt in server-first-message');
    const iterText = attributeValue(parts[2], 'i');
    if (iterText === null) throw this.#fail('iteration count missing from server-first-message');
    if (!/^[0-9]{1,8}$/.test(iterText)) throw this.#fail('invalid iteration count in server-first-message');
    const iterations = Number(iterText);
    if (iterations < 1 || iterations > MAX_CLIENT_ITERATIONS) {
      throw this.#fail(`iteration count ${iterations} in server-first-message is out of range (1..${MAX_CLIENT_ITERATIONS})`);
    }
    if (parts.length !== 3) throw this.#fail('garbage at end of server-first-message');

    const salted = saltedPassword(this.#password, salt, iterations);
    this.#password = '';
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = sha256(clientKey);
    const serverKey = hmac(salted, 'Server Key');
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = Buffer.from(`${state.clientFirstBare},${message},${withoutProof}`, 'latin1');
    const proof = xor(clientKey, hmac(storedKey, authMessage));
    this.#state = { step: 'final-sent', serverSignature: hmac(serverKey, authMessage) };
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'latin1');
  }

  /** Checks the server-final-message (AuthenticationSASLFinal); throws unless the server proved itself. */
  verifyServerFinal(data: Buffer): void {
    const state = this.#state;
    if (state.step !== 'final-sent') throw this.#fail('unexpected server-final-message');
    const message = this.#serverMessage(data, 'server-final-message');
    const error = attributeValue(message, 'e');
    if (error !== null) {
      // server-error-value is a short token such as "invalid-proof"; keep only its harmless characters.
      throw this.#fail(`server reported error "${error.replace(/[^A-Za-z0-9-]/g, '').slice(0, 64)}"`);
    }
    const parts = message.split(',');
    const verifierText = attributeValue(parts[0], 'v');
    if (verifierText === null) throw this.#fail('server signature missing from server-final-message');
    const signature = decodeBase64(verifierText);
    if (signature?.length !== KEY_LENGTH) throw this.#fail('malformed server signature in server-final-message');
    if (parts.length !== 1) throw this.#fail('garbage at end of server-final-message');
    if (!timingSafeEqual(signature, state.serverSignature)) throw this.#fail('incorrect server signature');
    this.#state = { step: 'done' };
  }

  #serverMessage(data: Buffer, what: string): string {
    if (data.length === 0) throw this.#fail(`empty ${what}`);
    if (data.includes(0)) throw this.#fail(`${what} contains a zero byte`);
    return data.toString('latin1');
  }

  #fail(what: string): ProxyError {
    this.#state = { step: 'failed' };
    this.#password = '';
    return ProxyError.backendUnavailable(this.#node, `SCRAM: ${what}`);
  }
}
