/**
 * The live WebSocket: subscriptions that survive reconnects, requests matched to their
 * replies, and per-conversation event feeds that apply each logged event exactly once, in
 * order (dedupe by seq; a gap is filled from GET /conversations/{id}/events before going on).
 *
 * Protocol (JSON text frames), client -> server, routed by `action`:
 *   {"action": "subscribe", "conversation_id": "c1", "after": 17}
 *   {"action": "subscribe", "topic": "approvals"}
 *   {"action": "unsubscribe", "conversation_id": "c1"}
 *   {"action": "sendMessage", "conversation_id": "c1", "message": "…", "request_id": "<uuid>"}
 * server -> client: {"type": "subscribed", …}; event records {conversation_id, seq, type, …};
 *   {"type": "approval", "topic": "approvals", …}; {"type": "reply", request_id, status, body};
 *   {"type": "error", request_id?, status, error: {code, message}}.
 */

const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8000;

/**
 * One conversation's logged events, applied once and in order.
 * Records reach it from the socket ({@link ConversationFeed#push}) or from HTTP
 * ({@link ConversationFeed#catchUp}); both go through one queue, so a gap being filled holds
 * back the records behind it.
 */
export class ConversationFeed {
  /**
   * @param {string} conversationId
   * @param {object} opts
   * @param {(id: string, after: number) => Promise<{events: object[], more: boolean}>} opts.fetchEvents
   * @param {(record: object) => void} opts.onRecord  called once per seq, in seq order
   * @param {(err: Error, from: number, to: number) => void} [opts.onGapError]
   */
  constructor(conversationId, { fetchEvents, onRecord, onGapError }) {
    this.conversationId = conversationId;
    this.fetchEvents = fetchEvents;
    this.onRecord = onRecord;
    this.onGapError = onGapError;
    /** The highest seq applied (0: none). */
    this.lastSeq = 0;
    this.chain = Promise.resolve();
  }

  /** Queue a record received live. */
  push(record) {
    return this.enqueue(() => this.applyLive(record));
  }

  /** Read everything logged after the last applied seq over HTTP (initial load, polling). */
  catchUp() {
    return this.enqueue(() => this.fill(Number.POSITIVE_INFINITY));
  }

  /** Resolves once everything queued so far is applied. */
  idle() {
    return this.chain;
  }

  enqueue(task) {
    const next = this.chain.then(task);
    this.chain = next.catch((err) => {
      // A failure never blocks the records queued behind it.
      console.error('event feed', this.conversationId, err);
    });
    return next;
  }

  async fill(upTo) {
    for (;;) {
      const page = await this.fetchEvents(this.conversationId, this.lastSeq);
      const events = Array.isArray(page?.events) ? page.events : [];
      for (const record of events) this.applyNow(record);
      if (!page?.more || events.length === 0 || this.lastSeq >= upTo) return;
    }
  }

  async applyLive(record) {
    if (!Number.isInteger(record.seq) || record.seq <= this.lastSeq) return; // seen already
    if (record.seq > this.lastSeq + 1) {
      const from = this.lastSeq + 1;
      try {
        await this.fill(record.seq - 1);
      } catch (err) {
        // Events are kept 24 h: what cannot be read any more is skipped, not waited for.
        if (this.onGapError) this.onGapError(err, from, record.seq - 1);
      }
    }
    this.applyNow(record);
  }

  applyNow(record) {
    if (!record || !Number.isInteger(record.seq) || record.seq <= this.lastSeq) return;
    this.lastSeq = record.seq;
    this.onRecord(record);
  }
}

/** The socket was not open (the caller falls back to HTTP). */
export class NotConnected extends Error {
  constructor() {
    super('the live connection is not open');
    this.name = 'NotConnected';
  }
}

/** The socket closed before a request's reply came (the run may still go on). */
export class ConnectionLost extends Error {
  constructor() {
    super('the live connection closed before the reply arrived');
    this.name = 'ConnectionLost';
  }
}

/** An error frame answering a request. */
export class SocketRequestError extends Error {
  constructor(frame) {
    const e = frame.error && typeof frame.error === 'object' ? frame.error : {};
    super(String(e.message || frame.message || 'the request failed'));
    this.name = 'SocketRequestError';
    this.status = Number(frame.status) || 0;
    this.code = String(e.code || 'error');
    this.details = e;
  }
}

function requestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const a = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * @typedef {'connecting'|'live'|'reconnecting'|'offline'} SocketState
 */

export class LiveSocket {
  /**
   * @param {string} url    the config's ws URL
   * @param {string} token  sent as ?token=
   * @param {object} handlers
   * @param {(state: SocketState) => void} [handlers.onState]
   * @param {(msg: object) => void} [handlers.onError]  error frames that answer no request
   */
  constructor(url, token, { onState, onError } = {}) {
    const sep = url.includes('?') ? '&' : '?';
    this.url = `${url}${sep}token=${encodeURIComponent(token)}`;
    this.onState = onState || (() => {});
    this.onError = onError || (() => {});
    /** @type {Map<string, ConversationFeed>} */
    this.feeds = new Map();
    /** @type {Set<(msg: object) => void>} */
    this.approvalListeners = new Set();
    this.approvalsWanted = false;
    /** @type {Map<string, {resolve: Function, reject: Function, conversationId: string}>} */
    this.pending = new Map();
    this.ws = null;
    this.backoff = MIN_BACKOFF_MS;
    this.timer = null;
    this.stopped = true;
    /** @type {SocketState} */
    this.state = 'offline';
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.stopped = false;
    this.connect('connecting');
  }

  /** Close for good (sign-out). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000, 'signed out');
    }
    this.failPending();
    this.setState('offline');
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  connect(state) {
    this.setState(state);
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      console.error('WebSocket', err);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      this.backoff = MIN_BACKOFF_MS;
      this.setState('live');
      for (const feed of this.feeds.values()) this.sendSubscribe(feed);
      if (this.approvalsWanted) this.send({ action: 'subscribe', topic: 'approvals' });
    });
    ws.addEventListener('message', (ev) => {
      if (this.ws === ws) this.handle(ev.data);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending();
      if (!this.stopped) this.scheduleReconnect();
    });
    // 'error' is always followed by 'close': reconnecting happens there.
  }

  scheduleReconnect() {
    this.setState('reconnecting');
    clearTimeout(this.timer);
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    this.timer = window.setTimeout(() => {
      if (!this.stopped) this.connect('reconnecting');
    }, delay);
  }

  failPending() {
    for (const p of this.pending.values()) p.reject(new ConnectionLost());
    this.pending.clear();
  }

  send(obj) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(obj));
    return true;
  }

  sendSubscribe(feed) {
    this.send({ action: 'subscribe', conversation_id: feed.conversationId, after: feed.lastSeq });
  }

  /** Receive a conversation's events (now and after every reconnect, from its last seq). */
  watch(feed) {
    this.feeds.set(feed.conversationId, feed);
    this.sendSubscribe(feed);
  }

  unwatch(conversationId) {
    if (!this.feeds.delete(conversationId)) return;
    this.send({ action: 'unsubscribe', conversation_id: conversationId });
  }

  /**
   * Listen to the approvals topic (subscribed on first use, and after every reconnect).
   * @returns {() => void} removes the listener
   */
  watchApprovals(listener) {
    this.approvalListeners.add(listener);
    if (!this.approvalsWanted) {
      this.approvalsWanted = true;
      this.send({ action: 'subscribe', topic: 'approvals' });
    }
    return () => this.approvalListeners.delete(listener);
  }

  /**
   * Run the agent on a message. The conversation's events arrive through its feed (watch it
   * first); resolves with the final reply frame {status, body}.
   * @returns {Promise<{status: number, body: object}>}
   */
  sendMessage(conversationId, message) {
    if (!this.isOpen) return Promise.reject(new NotConnected());
    const id = requestId();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, conversationId });
      this.send({ action: 'sendMessage', conversation_id: conversationId, message, request_id: id });
    });
  }

  handle(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('WebSocket: a frame that is not JSON', data);
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (Number.isInteger(msg.seq) && typeof msg.conversation_id === 'string') {
      const feed = this.feeds.get(msg.conversation_id);
      if (feed) feed.push(msg);
      return;
    }
    switch (msg.type) {
      case 'subscribed':
        return;
      case 'approval':
        for (const listener of this.approvalListeners) listener(msg);
        return;
      case 'reply': {
        const p = this.pending.get(msg.request_id);
        if (!p) return;
        this.pending.delete(msg.request_id);
        p.resolve({ status: Number(msg.status) || 200, body: msg.body || {} });
        return;
      }
      case 'error': {
        const p = msg.request_id ? this.pending.get(msg.request_id) : null;
        if (p) {
          this.pending.delete(msg.request_id);
          p.reject(new SocketRequestError(msg));
        } else {
          this.onError(msg);
        }
        return;
      }
      default:
        console.debug('WebSocket: unhandled frame', msg);
    }
  }
}
