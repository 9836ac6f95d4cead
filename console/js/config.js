/**
 * The deployment's config.json: where the HTTP API and the WebSocket are, and how users sign in.
 *
 *   {"api": "", "ws": "ws://127.0.0.1:3001", "auth": "dev"}
 *   {"api": "https://….execute-api….amazonaws.com", "ws": "wss://…/live", "auth": "jwt",
 *    "cognito": {"domain": "https://x.auth.….amazoncognito.com", "client_id": "…",
 *                "redirect_uri": "https://console.example.com/"}}
 */

/**
 * @typedef {object} Config
 * @property {string} api   base URL of the HTTP API without trailing slash ("" = same origin)
 * @property {string} ws    WebSocket URL ("" = none: HTTP only)
 * @property {'dev'|'jwt'} auth
 * @property {{domain: string, client_id: string, redirect_uri: string}|null} cognito
 * @property {string[]} problems  what was wrong with the file (shown as a notice)
 */

/** @returns {Promise<Config>} */
export async function loadConfig() {
  const problems = [];
  let raw = {};
  try {
    const response = await fetch('config.json', { cache: 'no-store', credentials: 'same-origin' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    raw = await response.json();
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a JSON object');
  } catch (err) {
    problems.push(`config.json could not be loaded (${err.message}): using the same-origin API, ` +
      'dev sign-in and no live socket.');
    raw = {};
  }
  return normalize(raw, problems);
}

/**
 * Validate and normalize a parsed config object.
 * @param {any} raw
 * @param {string[]} problems
 * @returns {Config}
 */
export function normalize(raw, problems = []) {
  let api = typeof raw.api === 'string' ? raw.api.trim() : '';
  if (api && !/^https?:\/\//i.test(api)) {
    problems.push(`config "api" must be "" or an http(s) URL; got ${JSON.stringify(api)}.`);
    api = '';
  }
  api = api.replace(/\/+$/, '');
  let ws = typeof raw.ws === 'string' ? raw.ws.trim() : '';
  if (ws && !/^wss?:\/\//i.test(ws)) {
    problems.push(`config "ws" must be a ws:// or wss:// URL; got ${JSON.stringify(ws)}.`);
    ws = '';
  }
  let auth = raw.auth === 'jwt' ? 'jwt' : 'dev';
  if (raw.auth !== undefined && raw.auth !== 'jwt' && raw.auth !== 'dev') {
    problems.push(`config "auth" must be "dev" or "jwt"; using "dev".`);
  }
  let cognito = null;
  const c = raw.cognito;
  if (c && typeof c === 'object') {
    if (typeof c.domain === 'string' && /^https:\/\//i.test(c.domain) &&
        typeof c.client_id === 'string' && c.client_id &&
        typeof c.redirect_uri === 'string' && /^https?:\/\//i.test(c.redirect_uri)) {
      cognito = {
        domain: c.domain.replace(/\/+$/, ''),
        client_id: c.client_id,
        redirect_uri: c.redirect_uri,
      };
    } else {
      problems.push('config "cognito" needs an https "domain", a "client_id" and a "redirect_uri".');
    }
  }
  return { api, ws, auth, cognito, problems };
}
