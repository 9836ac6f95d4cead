/**
 * Conversations page (#/): the user's conversations, newest first, with "New conversation".
 */

import { h, uid, formatInt, formatUsd, timeEl } from '../dom.js';
import { newConversationId } from './chat.js';

/** Concurrent first-message look-ups (the list has no titles). */
const TITLE_CONCURRENCY = 4;

function firstText(turns) {
  for (const t of turns || []) {
    if (t.role !== 'user') continue;
    const content = typeof t.content === 'string' ? [{ text: t.content }] : t.content || [];
    const text = content.filter((b) => b && typeof b.text === 'string').map((b) => b.text).join(' ').trim();
    if (text) return text.length > 120 ? `${text.slice(0, 119)}…` : text;
  }
  return '';
}

export function mountConversations(main, ctx) {
  const { api, notify, navigate } = ctx;
  const titleId = uid('conv-title');
  const heading = h('h1', { id: titleId, tabindex: '-1', text: 'Conversations' });
  const newBtn = h('button', { type: 'button', 'data-testid': 'new-conversation', text: 'New conversation' });
  const status = h('p', { class: 'loading', text: 'Loading your conversations…' });
  const list = h('ul', { class: 'conversation-list', 'aria-labelledby': titleId });
  const moreBtn = h('button', { type: 'button', class: 'secondary', hidden: true, text: 'Load more' });
  main.append(h('section', { class: 'conversations', 'aria-labelledby': titleId },
    h('div', { class: 'page-head' }, heading, newBtn),
    status, list, moreBtn));

  let disposed = false;
  let nextToken = null;
  const titleQueue = [];
  let titleWorkers = 0;

  newBtn.addEventListener('click', () => navigate(`#/c/${newConversationId()}`));
  moreBtn.addEventListener('click', () => load());

  function pumpTitles() {
    while (titleWorkers < TITLE_CONCURRENCY && titleQueue.length && !disposed) {
      const { id, el } = titleQueue.shift();
      titleWorkers += 1;
      api.getConversation(id, 0, 2)
        .then((page) => {
          const text = firstText(page.turns);
          if (text && !disposed) {
            el.textContent = text;
            el.classList.remove('is-id');
          }
        })
        .catch(() => {})
        .finally(() => {
          titleWorkers -= 1;
          pumpTitles();
        });
    }
  }

  function row(c) {
    const id = String(c.conversation_id);
    const title = h('span', { class: 'conv-title is-id', text: id });
    const meta = h('span', { class: 'conv-meta' },
      'Updated ', timeEl(c.updated_at),
      ` · ${formatInt(c.turn_count)} turns · ${formatUsd(c.cost_usd)}`);
    titleQueue.push({ id, el: title });
    return h('li', { 'data-conversation-id': id },
      h('a', { href: `#/c/${encodeURIComponent(id)}`, class: 'conv-link' },
        title, h('span', { class: 'visually-hidden', text: ', ' }), meta,
        h('span', { class: 'conv-id', text: id })));
  }

  async function load() {
    moreBtn.hidden = true;
    status.hidden = false;
    status.textContent = 'Loading your conversations…';
    try {
      const page = await ctx.api.listConversations(nextToken);
      if (disposed) return;
      const items = Array.isArray(page.conversations) ? page.conversations : [];
      list.append(...items.map(row));
      nextToken = page.next_token || null;
      moreBtn.hidden = !nextToken;
      if (!list.childElementCount) status.textContent = 'No conversations yet. Start one with “New conversation”.';
      else status.hidden = true;
      pumpTitles();
    } catch (err) {
      if (disposed) return;
      status.textContent = `Your conversations could not be loaded: ${err.message}`;
      status.classList.add('error-text');
      notify(`Conversations: ${err.message}`, 'error');
    }
  }

  load();
  return {
    title: 'Conversations',
    focusTarget: heading,
    unmount() {
      disposed = true;
    },
  };
}
