/**
 * Approvals page (#/approvals[?status=approved]): approvers list actions waiting for a human
 * and approve or reject them with a reason. Live: the approvals topic of the socket; every
 * message re-reads the list (simplest, always right) and is announced.
 */

import { h, uid, timeEl } from '../dom.js';

const STATUSES = ['pending', 'approved', 'rejected'];

function amountOf(approval) {
  const p = approval.action && approval.action.payload;
  if (!p || typeof p !== 'object') return null;
  const amount = p.amount ?? p.amount_usd ?? p.total;
  if (amount === undefined || amount === null || amount === '') return null;
  const currency = typeof p.currency === 'string' ? ` ${p.currency}` : '';
  return `${amount}${currency}`;
}

function field(term, ...value) {
  return [h('dt', { text: term }), h('dd', {}, ...value)];
}

/**
 * @param {HTMLElement} main
 * @param {object} ctx {api, socket, notify}
 * @param {string} initialStatus
 */
export function mountApprovals(main, ctx, initialStatus) {
  const { api, socket, notify } = ctx;
  let status = STATUSES.includes(initialStatus) ? initialStatus : 'pending';
  const titleId = uid('approvals-title');
  const filterId = uid('approval-filter');
  const heading = h('h1', { id: titleId, tabindex: '-1', text: 'Approvals' });
  const filter = h('select', { id: filterId, 'data-testid': 'approval-filter' },
    ...STATUSES.map((s) => h('option', { value: s, selected: s === status, text: s })));
  const refreshBtn = h('button', { type: 'button', class: 'secondary', text: 'Refresh' });
  const statusEl = h('p', { class: 'loading', text: 'Loading approvals…' });
  const list = h('ul', { class: 'approval-list', 'aria-labelledby': titleId });
  const moreBtn = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'Load more' });
  main.append(h('section', { class: 'approvals', 'aria-labelledby': titleId },
    h('div', { class: 'page-head' }, heading,
      h('div', { class: 'filters' },
        h('label', { for: filterId, text: 'Status' }), filter, refreshBtn)),
    h('p', { class: 'hint', text: 'Actions an agent asked for that need a human decision. You cannot decide your own requests.' }),
    statusEl, list, moreBtn));

  let disposed = false;
  let nextToken = null;
  let loading = null;
  let reloadTimer = null;
  /** approval ids this page decided (their topic message is not "someone else") */
  const mine = new Set();

  filter.addEventListener('change', () => {
    status = filter.value;
    // Keep the filter in the address (bookmarkable) without re-mounting the page.
    history.replaceState(null, '', status === 'pending' ? '#/approvals' : `#/approvals?status=${status}`);
    reload();
  });
  refreshBtn.addEventListener('click', () => reload());
  moreBtn.addEventListener('click', () => load(false));

  function row(a) {
    const id = String(a.approval_id);
    const amount = amountOf(a);
    const details = h('dl', { class: 'approval-fields' },
      field('Requested by', a.requested_by || '—'),
      field('Conversation', a.conversation_id ? h('code', { text: a.conversation_id }) : '—'),
      field('Requested', timeEl(a.created_at)),
      amount ? field('Amount', h('strong', { text: amount })) : null,
      a.decided_by ? field('Decided by', a.decided_by) : null,
      a.decided_at ? field('Decided', timeEl(a.decided_at)) : null,
      a.reason ? field('Reason', a.reason) : null);
    const payload = h('details', { class: 'payload' },
      h('summary', { text: 'Action payload' }),
      h('pre', { text: JSON.stringify(a.action && a.action.payload !== undefined ? a.action.payload : a.action, null, 2) }));
    const li = h('li', { class: 'approval', 'data-testid': 'approval-row', 'data-approval-id': id, 'data-status': a.status },
      h('h2', { class: 'approval-title' },
        h('span', { text: a.action_type || 'Action' }), ' ',
        h('span', { class: `badge badge-${a.status === 'pending' ? 'pending_approval' : a.status}`, text: a.status })),
      h('p', { class: 'approval-summary', text: a.summary || '' }),
      details, payload,
      h('p', { class: 'approval-id' }, 'Approval ', h('code', { text: id })));
    if (a.status === 'pending') li.append(decisionForm(a, id));
    return li;
  }

  function decisionForm(a, id) {
    const reasonId = uid('reason');
    const reason = h('input', {
      id: reasonId, type: 'text', maxlength: '1000', name: 'reason', autocomplete: 'off',
      'data-testid': 'approval-reason',
    });
    const approve = h('button', { type: 'button', class: 'approve', 'data-testid': 'approve', text: 'Approve' });
    const reject = h('button', { type: 'button', class: 'reject', 'data-testid': 'reject', text: 'Reject' });
    approve.setAttribute('aria-label', `Approve ${a.action_type || 'action'} ${id}`);
    reject.setAttribute('aria-label', `Reject ${a.action_type || 'action'} ${id}`);
    const form = h('form', { class: 'decision', 'aria-label': `Decide approval ${id}` },
      h('label', { for: reasonId, text: 'Reason (optional)' }), reason,
      h('div', { class: 'decision-buttons' }, approve, reject));
    // Enter in the reason field must not pick a decision for the user.
    form.addEventListener('submit', (ev) => ev.preventDefault());
    const decide = async (decision) => {
      if (approve.getAttribute('aria-disabled') === 'true') return;
      approve.setAttribute('aria-disabled', 'true');
      reject.setAttribute('aria-disabled', 'true');
      mine.add(id);
      try {
        await api.decide(id, decision, reason.value.trim());
        notify(`${decision === 'approve' ? 'Approved' : 'Rejected'} ${a.action_type || 'action'} (approval ${id}).`, 'success');
        const rowsBefore = [...list.querySelectorAll('[data-approval-id]')];
        const index = rowsBefore.findIndex((el) => el.dataset.approvalId === id);
        await reload();
        // Keyboard flow through a queue: on to the next pending row's reason, else the heading.
        const rowsAfter = [...list.querySelectorAll('[data-approval-id]')];
        const next = rowsAfter[Math.min(Math.max(index, 0), rowsAfter.length - 1)];
        const target = next && next.querySelector('input[name="reason"]');
        (target || heading).focus();
      } catch (err) {
        mine.delete(id);
        approve.setAttribute('aria-disabled', 'false');
        reject.setAttribute('aria-disabled', 'false');
        notify(`Approval ${id} could not be ${decision === 'approve' ? 'approved' : 'rejected'}: ${err.message}`, 'error');
        if (err.status === 409 || err.status === 404) reload();
      }
    };
    approve.addEventListener('click', () => decide('approve'));
    reject.addEventListener('click', () => decide('reject'));
    return form;
  }

  function showForbidden(err) {
    list.replaceChildren();
    statusEl.hidden = false;
    statusEl.classList.add('error-text');
    statusEl.replaceChildren(
      h('strong', { text: 'Only approvers can see and decide approvals. ' }),
      `Sign in as a member of the approvers group (on the local stack: the user id “approver”). The server said: ${err.message}`);
  }

  /** @param {boolean} fresh  from the first page (else the next one) */
  async function load(fresh) {
    if (fresh) nextToken = null;
    moreBtn.hidden = true;
    statusEl.hidden = false;
    statusEl.classList.remove('error-text');
    statusEl.textContent = 'Loading approvals…';
    try {
      const page = await api.listApprovals(status, nextToken);
      if (disposed) return;
      const items = Array.isArray(page.approvals) ? page.approvals : [];
      const rows = items.map(row);
      if (fresh) {
        // Keep focus where it was when the row still exists (e.g. another row's reason input).
        const active = document.activeElement;
        const focusedRow = active && active.closest ? active.closest('[data-approval-id]') : null;
        const focusedId = focusedRow ? focusedRow.dataset.approvalId : null;
        const typed = new Map();
        list.querySelectorAll('[data-approval-id]').forEach((el) => {
          const input = el.querySelector('input[name="reason"]');
          if (input && input.value) typed.set(el.dataset.approvalId, input.value);
        });
        list.replaceChildren(...rows);
        for (const el of rows) {
          const value = typed.get(el.dataset.approvalId);
          const input = el.querySelector('input[name="reason"]');
          if (value && input) input.value = value;
        }
        if (focusedId && active && active.dataset && active.dataset.testid) {
          const again = rows.find((el) => el.dataset.approvalId === focusedId);
          const target = again && again.querySelector(`[data-testid="${active.dataset.testid}"]`);
          if (target) target.focus();
        }
      } else {
        list.append(...rows);
      }
      nextToken = page.next_token || null;
      moreBtn.hidden = !nextToken;
      if (!list.childElementCount) statusEl.textContent = `No ${status} approvals.`;
      else statusEl.hidden = true;
    } catch (err) {
      if (disposed) return;
      if (err.status === 403) showForbidden(err);
      else {
        statusEl.classList.add('error-text');
        statusEl.textContent = `Approvals could not be loaded: ${err.message}`;
      }
    }
  }

  function reload() {
    if (!loading) {
      loading = load(true).finally(() => {
        loading = null;
      });
    } else {
      // A reload while one is in flight: run once more after it (the list may have changed).
      clearTimeout(reloadTimer);
      reloadTimer = window.setTimeout(() => reload(), 250);
    }
    return loading;
  }

  function onTopic(msg) {
    if (disposed) return;
    const id = String(msg.approval_id || '');
    const type = msg.action_type ? `${msg.action_type} ` : '';
    if (msg.status === 'pending') {
      notify(`New approval requested: ${type}(approval ${id}).`);
    } else if (mine.has(id)) {
      mine.delete(id);
    } else if (msg.status === 'approved' || msg.status === 'rejected') {
      notify(`Approval ${id} (${type.trim() || 'action'}) was ${msg.status} by someone else.`);
    }
    reload();
  }

  const stopTopic = socket ? socket.watchApprovals(onTopic) : () => {};
  reload();

  return {
    title: 'Approvals',
    focusTarget: heading,
    unmount() {
      disposed = true;
      clearTimeout(reloadTimer);
      stopTopic();
    },
  };
}
