/**
 * The HTTP API client. Every request carries `Authorization: Bearer <token>`; errors become
 * {@link ApiError} with the server's message (`{"error": {"code", "message"}}`).
 */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: the API could not be reached)
   * @param {string} code
   * @param {string} message
   * @param {object} [details] the rest of the error object (e.g. budget, resets_at)
   */
  constructor(status, code, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The message of an error body in any of the shapes APIs use. */
export function errorFrom(status, body, fallbackText = '') {
  const e = body && typeof body === 'object' ? body.error ?? body : null;
  if (e && typeof e === 'object') {
    const { code, message, ...details } = e;
    return new ApiError(status, String(code || 'error'),
      String(message || body.message || fallbackText || `HTTP ${status}`), details);
  }
  if (typeof e === 'string') return new ApiError(status, 'error', e);
  return new ApiError(status, 'error', fallbackText || `HTTP ${status}`);
}

/**
 * @param {{base: string, getToken: () => string|null, onUnauthorized?: (err: ApiError) => void}} opts
 */
export function createApi({ base, getToken, onUnauthorized }) {
  /**
   * @param {string} method
   * @param {string} path  starting with "/"
   * @param {{query?: Record<string, any>, body?: any}} [opts]
   */
  async function request(method, path, { query, body } = {}) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) {
      if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
    }
    const qs = params.toString();
    const url = `${base}${path}${qs ? `?${qs}` : ''}`;
    const headers = { Accept: 'application/json' };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (err) {
      throw new ApiError(0, 'network', `Could not reach the API (${err.message}).`);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) {
      const err = errorFrom(response.status, data, text.slice(0, 300));
      if (response.status === 401 && onUnauthorized) onUnauthorized(err);
      throw err;
    }
    return data;
  }

  const enc = encodeURIComponent;
  return {
    request,
    /** GET /users/me/conversations -> {conversations: [...], next_token} */
    listConversations: (nextToken, limit = 20) =>
      request('GET', '/users/me/conversations', { query: { limit, next_token: nextToken } }),
    /** GET /conversations/{id}?after= -> {turns, next_after, usage, running_invocation, ...} */
    getConversation: (id, after = 0, limit = 500) =>
      request('GET', `/conversations/${enc(id)}`, { query: { after, limit } }),
    /** GET /conversations/{id}/events?after= -> {events, next_after, more} */
    getEvents: (id, after = 0, limit = 1000) =>
      request('GET', `/conversations/${enc(id)}/events`, { query: { after, limit } }),
    /** POST /conversations/{id}/messages (watch: events logged as they happen) */
    postMessage: (id, message) =>
      request('POST', `/conversations/${enc(id)}/messages`, { body: { message, watch: true } }),
    /** GET /approvals?status= -> {approvals: [...], next_token} */
    listApprovals: (status = 'pending', nextToken) =>
      request('GET', '/approvals', { query: { status, next_token: nextToken } }),
    /** POST /approvals/{id} -> the approval */
    decide: (id, decision, reason) =>
      request('POST', `/approvals/${enc(id)}`, {
        body: reason ? { decision, reason } : { decision },
      }),
  };
}
