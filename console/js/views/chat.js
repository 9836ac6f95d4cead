/**
 * Chat page (#/c/<id>): the stored turns, the runs of the last 24 h from the event log, and
 * the live run: its reply streamed into a bubble, its timeline (model calls, tools, actions
 * and their approval status), its tokens and cost, and the conversation's total.
 */

import { h, uid, usageText, formatMs } from '../dom.js';
import { ConversationFeed, NotConnected, ConnectionLost } from '../socket.js';
import {
  ACTION_LABELS, ConversationModel, exchangesFrom, finalReply, isOpen, replyText, runUsage,
} from '../runs.js';

export const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,64}$/;
const POLL_MS = 1500;
const ZERO = Object.freeze({ input_tokens: 0, output_tokens: 0, cost_usd: 0 });
/** A turn number above any conversation's: GET …?after= it returns the META only. */
const META_ONLY_AFTER = 999999999;

function userMessage(text) {
  return h('div', { class: 'message user' },
    h('span', { class: 'who', text: 'You' }),
    h('div', { class: 'bubble user', text }));
}

function assistantMessage(text, live) {
  const bubble = h('div', {
    class: 'bubble assistant',
    'aria-live': live ? 'polite' : null,
    text,
  });
  const wrap = h('div', { class: 'message assistant' }, h('span', { class: 'who', text: 'Agent' }), bubble);
  return { wrap, bubble };
}

function badge(status, label) {
  return h('span', { class: `badge badge-${String(status).replace(/[^a-z_]/gi, '')}`, text: label || status });
}

function excerpt(text, max = 220) {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function count(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * @param {HTMLElement} main
 * @param {object} ctx  {api, socket, notify, onSocketState}
 * @param {string} conversationId
 */
export function mountChat(main, ctx, conversationId) {
  const { api, socket, notify } = ctx;
  const id = conversationId;

  const titleId = uid('chat-title');
  const inputId = uid('message');
  const hintId = uid('message-hint');
  const heading = h('h1', { id: titleId, tabindex: '-1' }, 'Conversation ', h('code', { text: id }));
  const totalEl = h('p', { class: 'conversation-usage', 'data-testid': 'conversation-usage' });
  const runningEl = h('p', { class: 'running-note', hidden: true });
  const loadingEl = h('p', { class: 'loading', text: 'Loading the conversation…' });
  const emptyEl = h('p', { class: 'empty', hidden: true, text: 'No messages yet: write the first one below.' });
  const transcript = h('ol', { class: 'transcript', 'aria-label': 'Messages' });
  const scroller = h('div', {
    class: 'transcript-scroll', tabindex: '0', role: 'region', 'aria-label': 'Conversation messages',
  }, loadingEl, emptyEl, transcript);
  const input = h('textarea', {
    id: inputId, name: 'message', rows: '3', 'data-testid': 'message-input',
    'aria-describedby': hintId, autocomplete: 'off',
  });
  const sendBtn = h('button', { type: 'submit', 'data-testid': 'send', text: 'Send' });
  const form = h('form', { class: 'composer', 'aria-label': 'Send a message' },
    h('label', { for: inputId, text: 'Message' }),
    h('div', { class: 'composer-row' }, input, sendBtn),
    h('p', { id: hintId, class: 'hint', text: 'Enter sends; Shift+Enter starts a new line.' }));
  const section = h('section', { class: 'chat', 'aria-labelledby': titleId },
    h('div', { class: 'chat-head' },
      heading,
      h('p', { class: 'back' }, h('a', { href: '#/', text: '← All conversations' })),
      totalEl),
    runningEl, scroller, form);
  main.append(section);

  const model = new ConversationModel();
  /** run.key -> view */
  const views = new Map();
  let baseline = ZERO;
  let loaded = false;
  let disposed = false;
  let busy = false;
  let postInFlight = false;
  let pollTimer = null;
  let polling = false;
  let renderTimer = null;
  let baselineTimer = null;
  const dirty = new Set();

  const feed = new ConversationFeed(id, {
    fetchEvents: (cid, after) => api.getEvents(cid, after, 1000).catch((err) => {
      if (err.status === 404) return { events: [], more: false }; // nothing logged yet
      throw err;
    }),
    onRecord,
    onGapError: (err, from, to) => notify(
      `Events ${from}–${to} of this conversation could not be loaded (${err.message}); the timeline may miss them.`,
      'error'),
  });

  // ---- rendering -------------------------------------------------------------------------

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }

  function scrollToBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  /** The view of a run; `historyBubble`: the stored exchange it belongs to. */
  function createView(run, li, historyBubble, open) {
    const view = { run, li, attached: Boolean(historyBubble), bubble: historyBubble };
    if (!historyBubble) {
      if (run.userText !== null) li.append(userMessage(run.userText));
      else {
        li.append(h('p', {
          class: 'run-origin',
          text: 'A run without a message on this page (an event, a continuation or another tab):',
        }));
      }
      const m = assistantMessage('', run.live);
      li.append(m.wrap);
      view.bubble = m.bubble;
    }
    view.status = h('p', { class: 'run-status', hidden: true });
    view.summary = h('summary');
    view.list = h('ol', { class: 'timeline-list' });
    view.details = h('details', { class: 'timeline', open }, view.summary, view.list);
    view.usage = h('p', { class: 'turn-usage', 'data-testid': 'turn-usage' });
    li.append(view.status, view.details, view.usage);
    views.set(run.key, view);
    return view;
  }

  function timelineItem(run, item) {
    if (item.kind === 'step') {
      const s = run.steps.get(item.step);
      const li = h('li', { class: 'tl-step' }, h('span', { class: 'tl-kind', text: `Model call ${item.step}` }));
      if (s && s.usage) li.append(h('span', { class: 'tl-meta', text: ` — ${usageText(s.usage)}` }));
      if (s && s.text.trim() && run.steps.size > 1) {
        li.append(h('q', { class: 'tl-text', text: excerpt(s.text) }));
      }
      return li;
    }
    if (item.kind === 'tool') {
      const meta = [];
      if (item.duration_ms !== undefined && item.duration_ms !== null) meta.push(formatMs(item.duration_ms));
      return h('li', { class: 'tl-tool' },
        h('span', { class: 'tl-kind', text: 'Tool ' }), h('code', { text: item.name }), ' ',
        badge(item.status, item.status === 'running' ? 'running…' : item.status),
        meta.length ? h('span', { class: 'tl-meta', text: ` ${meta.join(' · ')}` }) : null,
        item.error ? h('span', { class: 'tl-error', text: ` — ${item.error}` }) : null);
    }
    // action
    const extra = [];
    if (item.decided_by) extra.push(`by ${item.decided_by}`);
    if (item.reason) extra.push(`reason: ${item.reason}`);
    if (item.error) extra.push(`error: ${item.error}`);
    return h('li', {
      class: 'tl-action', 'data-testid': 'action-status', 'data-status': item.status, 'data-action-id': item.id,
    },
    h('span', { class: 'tl-kind', text: 'Action ' }), h('strong', { text: item.type }), ' ',
    badge(item.status, ACTION_LABELS[item.status] || item.status),
    h('span', { class: 'tl-meta', text: ` id ${item.id}${item.approval_id && item.approval_id !== item.id ? ` · approval ${item.approval_id}` : ''}` }),
    extra.length ? h('span', { class: 'tl-detail', text: ` — ${extra.join('; ')}` }) : null);
  }

  function renderRun(run) {
    const view = views.get(run.key);
    if (!view) return;
    const open = isOpen(run);
    if (!view.attached) {
      const text = replyText(run);
      if (view.bubble.textContent !== text) view.bubble.textContent = text;
      view.bubble.classList.toggle('streaming', open && !run.deferred);
      view.bubble.setAttribute('aria-busy', open && !run.deferred ? 'true' : 'false');
    }
    let status = '';
    let kind = 'info';
    if (run.error) {
      status = `Not answered: ${run.error}`;
      kind = 'error';
    } else if (run.result) {
      const r = run.result;
      if (r.status === 'failed') {
        status = `The run failed${r.error ? `: ${r.error}` : '.'}`;
        kind = 'error';
      } else if (r.status === 'deferred') {
        status = 'Deferred: the run continues in the background.';
      } else if (r.status !== 'completed') {
        status = `Run ended: ${r.status}${r.error ? ` (${r.error})` : ''}.`;
        kind = 'warning';
      }
    } else if (run.deferred) {
      status = 'The run continues in the background…';
    } else {
      status = 'The agent is working…';
    }
    view.status.textContent = status;
    view.status.hidden = !status;
    view.status.dataset.kind = kind;

    const tools = run.items.filter((i) => i.kind === 'tool').length;
    const actions = run.items.filter((i) => i.kind === 'action').length;
    view.summary.textContent = `Run details: ${count(run.steps.size, 'model call', 'model calls')}, ` +
      `${count(tools, 'tool call', 'tool calls')}, ${count(actions, 'action', 'actions')}` +
      `${open && !run.deferred ? ' (running)' : ''}`;
    const items = run.items.map((item) => timelineItem(run, item));
    if (run.result) {
      const r = run.result;
      items.push(h('li', { class: 'tl-result' },
        h('span', { class: 'tl-kind', text: 'Result ' }), badge(r.status),
        r.stop_reason ? h('span', { class: 'tl-meta', text: ` stop reason ${r.stop_reason}` }) : null,
        r.error ? h('span', { class: 'tl-error', text: ` — ${r.error}` }) : null));
    }
    if (!items.length) items.push(h('li', { class: 'tl-empty', text: 'Nothing yet.' }));
    view.list.replaceChildren(...items);
    view.usage.textContent = `Turn: ${usageText(runUsage(run))}`;
  }

  function renderTotal() {
    const total = { ...baseline };
    for (const run of model.runs) {
      if (run.inBaseline) continue;
      const u = runUsage(run);
      total.input_tokens += u.input_tokens;
      total.output_tokens += u.output_tokens;
      total.cost_usd += u.cost_usd;
    }
    totalEl.textContent = `Conversation total: ${usageText(total)}`;
  }

  /** `assistant-reply` marks the latest assistant bubble; `reply-live` the latest live one. */
  function markLatest() {
    const bubbles = transcript.querySelectorAll('.bubble.assistant');
    bubbles.forEach((b) => {
      b.removeAttribute('data-testid');
      if (b.id === 'reply-live') b.removeAttribute('id');
    });
    if (bubbles.length) bubbles[bubbles.length - 1].setAttribute('data-testid', 'assistant-reply');
    const live = transcript.querySelectorAll('.bubble.assistant[aria-live]');
    if (live.length) live[live.length - 1].id = 'reply-live';
    emptyEl.hidden = transcript.childElementCount > 0;
  }

  function scheduleRender(run) {
    dirty.add(run);
    if (renderTimer) return;
    renderTimer = window.setTimeout(() => {
      renderTimer = null;
      if (disposed) return;
      const stick = nearBottom();
      for (const r of dirty) {
        if (!views.has(r.key)) appendRun(r, true);
        renderRun(r);
      }
      dirty.clear();
      renderTotal();
      markLatest();
      if (stick) scrollToBottom();
    }, 16);
  }

  function appendRun(run, open) {
    const li = h('li', { class: 'exchange', 'data-run': run.runId || run.key });
    transcript.append(li);
    createView(run, li, null, open);
    renderRun(run);
  }

  /** First render: stored exchanges, each with the logged run whose result is its reply. */
  function build(exchanges) {
    const rows = exchanges.map((e) => {
      const li = h('li', { class: 'exchange', 'data-turn': e.firstTurn });
      if (e.user !== null) li.append(userMessage(e.user));
      if (e.tools.length) {
        li.append(h('p', { class: 'tools-used', text: `Tools used: ${[...new Set(e.tools)].join(', ')}` }));
      }
      let bubble = null;
      if (e.replies.length) {
        const m = assistantMessage(e.replies.join('\n\n'), false);
        li.append(m.wrap);
        bubble = m.bubble;
      }
      transcript.append(li);
      return { e, li, bubble, run: null };
    });
    const unmatched = [];
    let from = 0;
    for (const run of model.runs) {
      const text = run.result && run.result.text ? run.result.text.trim() : '';
      // the server notes the saved exchange's first turn on the result: an exact match (the
      // finished part of an exchange; a deferred part and runs logged before the server noted
      // turns are matched by their final text)
      const finished = run.result && run.result.status !== 'deferred';
      const turn = finished && Number.isInteger(run.result.turn) ? run.result.turn : null;
      let found = -1;
      if (turn !== null) {
        found = rows.findIndex((r) => !r.run && r.e.firstTurn === turn);
      } else if (text) {
        for (let i = from; i < rows.length; i += 1) {
          if (!rows[i].run && rows[i].bubble && finalReply(rows[i].e).trim() === text) {
            found = i;
            break;
          }
        }
      }
      if (found >= 0) {
        rows[found].run = run;
        from = found + 1;
      } else unmatched.push(run);
    }
    const last = model.runs[model.runs.length - 1];
    const wantsOpen = (run) => run === last ||
      run.items.some((i) => i.kind === 'action' && (i.status === 'pending_approval' || i.status === 'requested'));
    for (const row of rows) {
      if (row.run) {
        createView(row.run, row.li, row.bubble, wantsOpen(row.run));
        renderRun(row.run);
      }
    }
    for (const run of unmatched) appendRun(run, wantsOpen(run));
    loadingEl.hidden = true;
    renderTotal();
    markLatest();
    scrollToBottom();
  }

  // ---- data ------------------------------------------------------------------------------

  function setMeta(meta) {
    const u = meta && meta.usage ? meta.usage : ZERO;
    baseline = {
      input_tokens: Number(u.input_tokens) || 0,
      output_tokens: Number(u.output_tokens) || 0,
      cost_usd: Number(u.cost_usd) || 0,
    };
    const running = meta && meta.running_invocation;
    runningEl.hidden = !running;
    runningEl.textContent = running
      ? `A previous message is still being answered in the background (invocation ${running.invocation_id}); new messages wait until it is done.`
      : '';
  }

  /** Re-read the stored totals once a run is saved (debounced). */
  function refreshBaseline() {
    clearTimeout(baselineTimer);
    baselineTimer = window.setTimeout(async () => {
      try {
        const meta = await api.getConversation(id, META_ONLY_AFTER, 1);
        if (disposed) return;
        setMeta(meta);
        for (const run of model.runs) {
          if (run.result && run.result.status !== 'failed') run.inBaseline = true;
        }
        renderTotal();
      } catch {
        /* the totals stay as summed; the next run refreshes them */
      }
    }, 300);
  }

  function onRecord(record) {
    const run = model.apply(record);
    if (!loaded || !run || disposed) return;
    if (record.type === 'action_status') {
      const label = ACTION_LABELS[record.status] || record.status;
      notify(`Action ${record.action_type || record.action_id}: ${label}.`,
        record.status === 'failed' || record.status === 'rejected' ? 'error' : 'info');
    }
    if (record.type === 'result') {
      refreshBaseline();
      updatePolling();
    }
    scheduleRender(run);
  }

  async function loadHistory() {
    const turns = [];
    let meta = null;
    let after = 0;
    for (;;) {
      let page;
      try {
        page = await api.getConversation(id, after, 500);
      } catch (err) {
        if (err.status === 404 && after === 0) return { meta: null, turns }; // a new conversation
        throw err;
      }
      meta = page;
      if (Array.isArray(page.turns)) turns.push(...page.turns);
      const next = page.next_after;
      if (!Number.isInteger(next) || next <= after) break;
      after = next;
    }
    return { meta, turns };
  }

  async function load() {
    let exchanges = [];
    try {
      const { meta, turns } = await loadHistory();
      if (disposed) return;
      setMeta(meta);
      exchanges = exchangesFrom(turns);
    } catch (err) {
      notify(`The conversation could not be loaded: ${err.message}`, 'error');
    }
    try {
      await feed.catchUp();
    } catch (err) {
      notify(`The run events could not be loaded: ${err.message}`, 'error');
    }
    if (disposed) return;
    model.loading = false;
    for (const run of model.runs) run.inBaseline = Boolean(run.result) && run.result.status !== 'failed';
    build(exchanges);
    loaded = true;
    if (socket) socket.watch(feed);
    updatePolling();
  }

  // ---- polling when there is no live socket ------------------------------------------------

  function updatePolling() {
    const socketLive = socket && socket.state === 'live';
    const want = loaded && !disposed && !socketLive &&
      (postInFlight || model.runs.some((r) => r.live && isOpen(r)));
    if (want && !pollTimer) {
      pollTimer = window.setInterval(async () => {
        if (polling) return;
        polling = true;
        try {
          await feed.catchUp();
        } catch {
          /* try again on the next tick */
        } finally {
          polling = false;
        }
      }, POLL_MS);
    } else if (!want && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  const offState = ctx.onSocketState ? ctx.onSocketState(() => updatePolling()) : () => {};

  // ---- sending ---------------------------------------------------------------------------

  function setBusy(value) {
    busy = value;
    sendBtn.setAttribute('aria-disabled', value ? 'true' : 'false');
    sendBtn.textContent = value ? 'Sending…' : 'Send';
  }

  async function postOverHttp(text) {
    postInFlight = true;
    updatePolling();
    try {
      const body = await api.postMessage(id, text);
      return { status: body && body.status === 'running' ? 202 : 200, body };
    } finally {
      postInFlight = false;
      await feed.catchUp().catch(() => {});
    }
  }

  async function send() {
    if (!loaded) {
      // sent before the history arrived (a quick typist): it goes once the page has loaded
      await loading;
      if (disposed || !loaded) return;
    }
    if (busy) {
      notify('Wait for the answer to your previous message.');
      return;
    }
    const text = input.value.trim();
    if (!text) {
      notify('Type a message first.');
      input.focus();
      return;
    }
    setBusy(true);
    input.value = '';
    const run = model.startLocal(text);
    appendRun(run, true);
    markLatest();
    scrollToBottom();
    try {
      let answer = null;
      if (socket && socket.isOpen) {
        try {
          answer = await socket.sendMessage(id, text);
        } catch (err) {
          if (!(err instanceof NotConnected)) throw err;
        }
      }
      if (!answer) answer = await postOverHttp(text);
      await feed.idle();
      if (disposed) return;
      model.applyAnswer(run, answer.status, answer.body);
      if (run.deferred && !run.result) {
        notify('The answer takes longer: the run continues in the background and shows up here.');
      }
      refreshBaseline();
      scheduleRender(run);
    } catch (err) {
      if (disposed) return;
      if (err instanceof ConnectionLost) {
        notify('The connection dropped while the agent was answering. The run goes on; its events appear here once reconnected.');
      } else {
        const status = err.status ? ` (${err.status})` : '';
        model.fail(run, `${err.message}${status}`);
        if (!input.value) input.value = text; // to send again
        notify(`Message not sent${status}: ${err.message}`, 'error');
        scheduleRender(run);
      }
    } finally {
      if (!disposed) {
        setBusy(false);
        updatePolling();
      }
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    send();
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
      ev.preventDefault();
      form.requestSubmit();
    }
  });

  renderTotal();
  const loading = load();

  return {
    title: `Conversation ${id}`,
    focusTarget: input,
    unmount() {
      disposed = true;
      clearTimeout(renderTimer);
      clearTimeout(baselineTimer);
      if (pollTimer) clearInterval(pollTimer);
      offState();
      if (socket) socket.unwatch(id);
    },
  };
}

/** A new conversation id: "c-" + 20 random hex digits. */
export function newConversationId() {
  const hex = crypto.randomUUID
    ? crypto.randomUUID().replace(/-/g, '')
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `c-${hex.slice(0, 20)}`;
}
