/**
 * A conversation's runs, built from its logged events (and from HTTP answers when no events
 * came), plus the past turns' shape. Pure data: the chat view renders it.
 *
 * Event records (each with conversation_id, seq, type, run_id sometimes):
 *   text {step, delta} · text_replaced {step, text} · tool_use_start {step, tool_use_id, name}
 *   tool_use_end {step, tool_use_id, name, status, duration_ms, error}
 *   action_requested {action_id, action_type, needs_approval}
 *   action_status {action_id, action_type, status, approval_id?, reason?, decided_by?, error?}
 *   usage {step, input_tokens, output_tokens, cost_usd}
 *   result {status, text, stop_reason, input_tokens, output_tokens, cost_usd, error}
 */

/** Human words for action statuses (data-status keeps the raw value). */
export const ACTION_LABELS = {
  requested: 'requested',
  pending_approval: 'pending approval',
  approved: 'approved',
  rejected: 'rejected',
  completed: 'completed',
  failed: 'failed',
};

/**
 * @typedef {{input_tokens: number, output_tokens: number, cost_usd: number}} Usage
 * @typedef {{kind: 'step', step: number}
 *   | {kind: 'tool', id: string, name: string, step: number, status: string, duration_ms?: number, error?: string|null}
 *   | {kind: 'action', id: string, type: string, status: string, approval_id?: string, reason?: string, decided_by?: string, error?: string}
 * } TimelineItem
 * @typedef {object} Run
 * @property {string} key             stable local key
 * @property {string|null} runId
 * @property {string|null} userText   the message, when sent from this page
 * @property {boolean} local          started by this page
 * @property {boolean} live           arrived after the page loaded (streams, aria-live)
 * @property {Map<number, {text: string, usage: Usage|null}>} steps
 * @property {TimelineItem[]} items
 * @property {Usage} usage            sum of the usage events
 * @property {object|null} result     the result event (or the HTTP answer)
 * @property {string|null} error      a client-side failure (the request was refused)
 * @property {boolean} deferred       answered 202: continues in the background
 * @property {boolean} inBaseline     its cost is in the conversation's stored totals
 */

let runCounter = 0;

function newRun(fields = {}) {
  runCounter += 1;
  return {
    key: `run-${runCounter}`,
    runId: null,
    userText: null,
    local: false,
    live: false,
    steps: new Map(),
    items: [],
    usage: { input_tokens: 0, output_tokens: 0, cost_usd: 0 },
    result: null,
    error: null,
    deferred: false,
    inBaseline: false,
    ...fields,
  };
}

/** Whether a run may still receive events of its own. */
export function isOpen(run) {
  return !run.result && !run.error;
}

/** The run's tokens and cost: the result's totals once there, else the sum so far. */
export function runUsage(run) {
  const r = run.result;
  if (r && Number.isFinite(Number(r.input_tokens))) {
    return {
      input_tokens: Number(r.input_tokens) || 0,
      output_tokens: Number(r.output_tokens) || 0,
      cost_usd: Number(r.cost_usd) || 0,
    };
  }
  return run.usage;
}

/** What the assistant bubble shows: the streamed text of every model call, else the result's. */
export function replyText(run) {
  const parts = [...run.steps.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, s]) => s.text.trim())
    .filter(Boolean);
  if (parts.length) return parts.join('\n\n');
  return run.result && typeof run.result.text === 'string' ? run.result.text : '';
}

/**
 * A run's result, from its logged `result` event or from the HTTP/WebSocket answer.
 * `turn`: the saved exchange's first turn (matches the run with the stored turns).
 */
function resultOf(status, text, stopReason, usage, error, turn) {
  return {
    status: String(status || 'completed'),
    text: typeof text === 'string' ? text : '',
    stop_reason: stopReason ?? null,
    input_tokens: usage.input_tokens,
    output_tokens: usage.output_tokens,
    cost_usd: usage.cost_usd,
    error: error ?? null,
    turn: Number.isInteger(turn) ? turn : null,
  };
}

/** How far an action has come: its status only moves forward. */
const STATUS_RANK = { requested: 0, pending_approval: 1, approved: 2, rejected: 3, completed: 3, failed: 3 };
function statusRank(status) {
  return STATUS_RANK[status] ?? 0;
}

export class ConversationModel {
  constructor() {
    /** @type {Run[]} */
    this.runs = [];
    this.byRunId = new Map();
    /** action_id -> {run, item} */
    this.actions = new Map();
    /** whether records are applied while the page loads (not live) */
    this.loading = true;
  }

  /** A run for a message sent from this page (its events adopt it). */
  startLocal(message) {
    const run = newRun({ userText: message, local: true, live: true });
    this.runs.push(run);
    return run;
  }

  /** The run a record belongs to (created when new). */
  runFor(record) {
    const id = typeof record.run_id === 'string' && record.run_id ? record.run_id : null;
    if (id && this.byRunId.has(id)) return this.byRunId.get(id);
    if (!id) {
      for (let i = this.runs.length - 1; i >= 0; i -= 1) {
        if (isOpen(this.runs[i])) return this.runs[i];
      }
    }
    // A new run: the message this page just sent, if one is waiting for its events.
    let run = this.runs.find((r) => r.local && !r.runId && isOpen(r));
    if (!run) {
      run = newRun({ live: !this.loading });
      this.runs.push(run);
    }
    if (id) {
      run.runId = id;
      this.byRunId.set(id, run);
    }
    return run;
  }

  step(run, n) {
    const step = Number.isInteger(n) ? n : 0;
    let s = run.steps.get(step);
    if (!s) {
      s = { text: '', usage: null };
      run.steps.set(step, s);
      run.items.push({ kind: 'step', step });
    }
    return s;
  }

  /**
   * Apply one record; returns the run it changed (null when ignored).
   * @param {object} r
   * @returns {Run|null}
   */
  apply(r) {
    switch (r.type) {
      case 'text': {
        const run = this.runFor(r);
        this.step(run, r.step).text += String(r.delta ?? '');
        return run;
      }
      case 'text_replaced': {
        const run = this.runFor(r);
        this.step(run, r.step).text = String(r.text ?? '');
        return run;
      }
      case 'tool_use_start':
      case 'tool_use_end': {
        const run = this.runFor(r);
        this.step(run, r.step);
        let item = run.items.find((i) => i.kind === 'tool' && i.id === r.tool_use_id);
        if (!item) {
          item = { kind: 'tool', id: String(r.tool_use_id ?? ''), name: String(r.name ?? 'tool'), step: r.step, status: 'running' };
          run.items.push(item);
        }
        if (r.type === 'tool_use_end') {
          item.status = String(r.status || 'success');
          item.duration_ms = r.duration_ms;
          item.error = r.error || null;
        }
        return run;
      }
      case 'action_requested': {
        const known = this.actions.get(r.action_id);
        if (known) {
          known.item.type = String(r.action_type || known.item.type);
          return known.run;
        }
        const run = this.runFor(r);
        const item = {
          kind: 'action',
          id: String(r.action_id),
          type: String(r.action_type || 'action'),
          status: r.needs_approval === true ? 'pending_approval' : 'requested',
        };
        run.items.push(item);
        this.actions.set(item.id, { run, item });
        return run;
      }
      case 'action_status': {
        let known = this.actions.get(r.action_id);
        if (!known) {
          // Its request is older than the log (24 h) or in another run: show it on the run
          // named, else the latest one; never start a run for it.
          const run = (r.run_id && this.byRunId.get(r.run_id)) || this.runs[this.runs.length - 1] ||
            this.runFor({});
          const item = { kind: 'action', id: String(r.action_id), type: String(r.action_type || 'action'), status: 'requested' };
          run.items.push(item);
          known = { run, item };
          this.actions.set(item.id, known);
        }
        const { item } = known;
        if (r.action_type) item.type = String(r.action_type);
        // Progress events come from different functions (the approval's and the worker's) and
        // may be logged in either order: a status never goes back (approved after completed).
        if (r.status && statusRank(r.status) >= statusRank(item.status)) item.status = String(r.status);
        for (const k of ['approval_id', 'reason', 'decided_by', 'error']) {
          if (r[k] !== undefined && r[k] !== null) item[k] = String(r[k]);
        }
        return known.run;
      }
      case 'usage': {
        const run = this.runFor(r);
        const u = {
          input_tokens: Number(r.input_tokens) || 0,
          output_tokens: Number(r.output_tokens) || 0,
          cost_usd: Number(r.cost_usd) || 0,
        };
        this.step(run, r.step).usage = u;
        run.usage = {
          input_tokens: run.usage.input_tokens + u.input_tokens,
          output_tokens: run.usage.output_tokens + u.output_tokens,
          cost_usd: run.usage.cost_usd + u.cost_usd,
        };
        return run;
      }
      case 'result': {
        const run = this.runFor(r);
        run.result = resultOf(r.status, r.text, r.stop_reason, r, r.error, r.turn);
        if (run.result.status === 'deferred') run.deferred = true;
        return run;
      }
      default:
        return null; // a type this console does not know yet: its seq still counts
    }
  }

  /**
   * Complete a run from the HTTP/WebSocket answer when its events did not (runs whose events
   * are not logged). 200: the turn's answer; 202: deferred so far.
   */
  applyAnswer(run, status, body) {
    if (!body || typeof body !== 'object') return;
    const haveEvents = run.items.length > 0;
    if (!haveEvents) {
      for (const t of Array.isArray(body.tool_calls) ? body.tool_calls : []) {
        run.items.push({ kind: 'tool', id: '', name: String(t.name), step: 0, status: String(t.status || ''), duration_ms: t.ms });
      }
      for (const a of Array.isArray(body.actions) ? body.actions : []) {
        if (this.actions.has(a.action_id)) continue;
        const item = { kind: 'action', id: String(a.action_id), type: String(a.type || 'action'), status: String(a.status || 'requested') };
        run.items.push(item);
        this.actions.set(item.id, { run, item });
      }
    }
    const u = body.usage || {};
    if (status === 202 || body.status === 'running') {
      run.deferred = true;
      if (!haveEvents) {
        run.usage = {
          input_tokens: Number(u.input_tokens) || 0,
          output_tokens: Number(u.output_tokens) || 0,
          cost_usd: Number(u.cost_usd) || 0,
        };
      }
      return;
    }
    if (!run.result) {
      run.result = resultOf(body.status, body.reply, body.stop_reason, u, null, body.turn);
    }
  }

  /** The request for this run was refused or failed. */
  fail(run, message) {
    run.error = message;
  }
}

/** The text blocks of a turn's content (a list of Bedrock Converse content blocks). */
function blocks(content) {
  if (typeof content === 'string') return [{ text: content }];
  return Array.isArray(content) ? content : [];
}

/**
 * @typedef {{user: string|null, replies: string[], tools: string[], firstTurn: number}} Exchange
 */

/**
 * Group stored turns ({turn, role, content}) into exchanges: a user text message, then the
 * assistant's texts and tool calls until the next user text (tool results are user turns too).
 * @returns {Exchange[]}
 */
export function exchangesFrom(turns) {
  const out = [];
  let current = null;
  for (const t of turns) {
    const content = blocks(t.content);
    const texts = content.filter((b) => b && typeof b.text === 'string').map((b) => b.text);
    if (t.role === 'user') {
      if (texts.length) {
        current = { user: texts.join('\n'), replies: [], tools: [], firstTurn: t.turn };
        out.push(current);
      }
      continue;
    }
    if (!current) {
      current = { user: null, replies: [], tools: [], firstTurn: t.turn };
      out.push(current);
    }
    current.replies.push(...texts.filter((x) => x.trim()));
    for (const b of content) {
      if (b && b.toolUse && b.toolUse.name) current.tools.push(String(b.toolUse.name));
    }
  }
  return out;
}

/** The exchange's final answer (its last assistant text). */
export function finalReply(exchange) {
  return exchange.replies.length ? exchange.replies[exchange.replies.length - 1] : '';
}
