/**
 * The signed-in session: a bearer token kept in sessionStorage (gone when the tab closes).
 * auth "dev": the token is the user id itself (the local API front turns it into the JWT sub).
 * auth "jwt": a Cognito id token (implicit flow) or a pasted JWT; decoded, never verified here
 * (the API verifies it).
 */

const TOKEN_KEY = 'agentocore.token';
const STATE_KEY = 'agentocore.oauth_state';

export const USER_ID_PATTERN = /^[A-Za-z0-9@._:+-]{1,128}$/;

/**
 * @typedef {object} Session
 * @property {string} token
 * @property {string} user        who the header shows (dev: the id; jwt: sub)
 * @property {boolean|null} approver  whether the token says "approvers" (null: unknown, dev)
 * @property {number|null} exp   JWT expiry (seconds since epoch)
 */

/** Decode a JWT's payload (no verification). Throws on a malformed token. */
export function decodeJwt(token) {
  const parts = String(token).trim().split('.');
  if (parts.length !== 3 || !parts[1]) throw new Error('a JWT has three dot-separated parts');
  const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  let json;
  try {
    const bytes = Uint8Array.from(atob(padded), (ch) => ch.charCodeAt(0));
    json = new TextDecoder().decode(bytes);
  } catch {
    throw new Error('the JWT payload is not base64url');
  }
  const payload = JSON.parse(json);
  if (!payload || typeof payload !== 'object') throw new Error('the JWT payload is not an object');
  return payload;
}

/** The groups of a JWT payload ("cognito:groups" array, or API Gateway's flattened string). */
export function groupsOf(payload) {
  const raw = payload['cognito:groups'] ?? payload.groups ?? [];
  if (Array.isArray(raw)) return raw.map(String);
  if (typeof raw === 'string') return raw.replace(/^\[|\]$/g, '').split(/[\s,]+/).filter(Boolean);
  return [];
}

/**
 * A session from a token.
 * @param {'dev'|'jwt'} mode
 * @param {string} token
 * @returns {Session}
 */
export function sessionFor(mode, token) {
  if (mode === 'dev') {
    if (!USER_ID_PATTERN.test(token)) throw new Error('user id must match ^[A-Za-z0-9@._:+-]{1,128}$');
    return { token, user: token, approver: null, exp: null };
  }
  const payload = decodeJwt(token);
  if (!payload.sub) throw new Error('the JWT has no "sub" claim');
  return {
    token: token.trim(),
    user: String(payload.sub),
    approver: groupsOf(payload).includes('approvers'),
    exp: typeof payload.exp === 'number' ? payload.exp : null,
  };
}

/** Whether a session's JWT has expired (false when it has no exp). */
export function expired(session) {
  return session.exp !== null && session.exp * 1000 <= Date.now();
}

/** The stored session, or null. */
export function loadSession(mode) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    return sessionFor(mode, token);
  } catch {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
}

export function saveSession(session) {
  sessionStorage.setItem(TOKEN_KEY, session.token);
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
}

function randomHex(bytes) {
  const a = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Start Cognito's implicit flow (leaves the page). */
export function startCognito(cognito) {
  const state = randomHex(16);
  sessionStorage.setItem(STATE_KEY, state);
  const params = new URLSearchParams({
    response_type: 'token',
    client_id: cognito.client_id,
    redirect_uri: cognito.redirect_uri,
    scope: 'openid',
    state,
  });
  window.location.assign(`${cognito.domain}/oauth2/authorize?${params}`);
}

/**
 * On return from Cognito, location.hash holds "id_token=…&state=…" (or "error=…").
 * Returns {token} / {error} / null when the hash is not an OAuth answer; cleans the hash.
 */
export function takeCognitoReturn() {
  const hash = window.location.hash.replace(/^#/, '');
  if (!/(^|&)(id_token|access_token|error)=/.test(hash)) return null;
  const params = new URLSearchParams(hash);
  const expected = sessionStorage.getItem(STATE_KEY);
  sessionStorage.removeItem(STATE_KEY);
  history.replaceState(null, '', `${window.location.pathname}${window.location.search}#/`);
  if (params.get('error')) {
    return { error: `Cognito sign-in failed: ${params.get('error_description') || params.get('error')}` };
  }
  if (!expected || params.get('state') !== expected) {
    return { error: 'Cognito sign-in answer did not match this browser tab (state); sign in again.' };
  }
  const token = params.get('id_token');
  if (!token) return { error: 'Cognito returned no id_token (is the "openid" scope allowed?).' };
  return { token };
}
