/**
 * AgentoCore console: entry point. Loads config.json, restores the session, keeps the
 * WebSocket, and routes by location.hash:
 *   #/                      conversations
 *   #/c/<conversation id>   chat
 *   #/approvals[?status=…]  approvals (approvers)
 */

import { loadConfig } from './js/config.js';
import { clearSession, expired, loadSession, saveSession, sessionFor, takeCognitoReturn } from './js/auth.js';
import { createApi } from './js/api.js';
import { LiveSocket } from './js/socket.js';
import { initNotices, notify } from './js/notice.js';
import { h, clear } from './js/dom.js';
import { mountSignIn } from './js/views/signin.js';
import { mountConversations } from './js/views/conversations.js';
import { CONVERSATION_ID, mountChat } from './js/views/chat.js';
import { mountApprovals } from './js/views/approvals.js';

const STATE_TEXT = {
  live: 'live',
  connecting: 'connecting',
  reconnecting: 'reconnecting',
  offline: 'offline',
};

const el = {
  main: document.getElementById('main'),
  nav: document.getElementById('main-nav'),
  navConversations: document.getElementById('nav-conversations'),
  navApprovals: document.getElementById('nav-approvals'),
  user: document.getElementById('current-user'),
  signOut: document.getElementById('sign-out'),
  state: document.getElementById('connection-state'),
};

/** App state. */
const app = {
  config: null,
  session: null,
  api: null,
  /** @type {LiveSocket|null} */
  socket: null,
  view: null,
  stateListeners: new Set(),
};

/** Parse location.hash into a route. */
function parseRoute(hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  const params = new URLSearchParams(query);
  if (path === '/' || path === '') return { name: 'conversations' };
  if (path === '/approvals') return { name: 'approvals', status: params.get('status') || 'pending' };
  const chat = /^\/c\/([^/]+)$/.exec(path);
  if (chat) {
    let id;
    try {
      id = decodeURIComponent(chat[1]);
    } catch {
      id = '';
    }
    return { name: 'chat', id };
  }
  return { name: 'unknown', path };
}

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function showConnection(state) {
  const text = app.config && !app.config.ws && state === 'offline' ? 'HTTP only' : STATE_TEXT[state] || state;
  el.state.textContent = text;
  el.state.dataset.state = state;
  el.state.title = state === 'live'
    ? 'Live updates over the WebSocket'
    : 'No live socket: messages are sent over HTTP and events are polled';
  for (const listener of app.stateListeners) listener(state);
}

function onSocketState(listener) {
  app.stateListeners.add(listener);
  return () => app.stateListeners.delete(listener);
}

function showHeader() {
  const s = app.session;
  el.nav.hidden = !s;
  el.signOut.hidden = !s;
  el.user.hidden = !s;
  if (s) {
    const role = s.approver === true ? ' (approver)' : '';
    el.user.replaceChildren('Signed in as ', h('strong', { text: s.user }), role);
  } else {
    el.user.replaceChildren();
  }
}

function startSocket() {
  if (app.socket) app.socket.stop();
  app.socket = null;
  if (!app.config.ws || !app.session) {
    showConnection('offline');
    return;
  }
  app.socket = new LiveSocket(app.config.ws, app.session.token, {
    onState: showConnection,
    onError: (msg) => {
      const e = msg.error && typeof msg.error === 'object' ? msg.error : {};
      const where = msg.conversation_id ? ` (conversation ${msg.conversation_id})` : msg.topic ? ` (${msg.topic})` : '';
      notify(`Live connection${where}: ${e.message || 'request refused'}${msg.status ? ` (${msg.status})` : ''}`, 'error');
    },
  });
  app.socket.start();
}

function signIn(session) {
  app.session = session;
  saveSession(session);
  showHeader();
  startSocket();
  notify(`Signed in as ${session.user}.`, 'success');
  route();
}

function signOut(message) {
  if (app.view) {
    app.view.unmount();
    app.view = null;
  }
  if (app.socket) app.socket.stop();
  app.socket = null;
  app.session = null;
  clearSession();
  showHeader();
  showConnection('offline');
  if (message) notify(message, 'error');
  else notify('Signed out.', 'success');
  route();
}

function setCurrentNav(name) {
  const pairs = [[el.navConversations, name === 'conversations' || name === 'chat'], [el.navApprovals, name === 'approvals']];
  for (const [link, current] of pairs) {
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function route() {
  if (app.view) {
    app.view.unmount();
    app.view = null;
  }
  clear(el.main);
  const r = parseRoute(window.location.hash);
  const ctx = {
    config: app.config,
    api: app.api,
    socket: app.socket,
    session: app.session,
    notify,
    navigate,
    onSocketState,
    signIn,
  };
  if (!app.session) {
    setCurrentNav('');
    app.view = mountSignIn(el.main, ctx);
  } else if (r.name === 'conversations') {
    app.view = mountConversations(el.main, ctx);
  } else if (r.name === 'chat' && CONVERSATION_ID.test(r.id)) {
    app.view = mountChat(el.main, ctx, r.id);
  } else if (r.name === 'approvals') {
    app.view = mountApprovals(el.main, ctx, r.status);
  } else {
    const heading = h('h1', { tabindex: '-1', text: 'Page not found' });
    el.main.append(h('section', { class: 'card' }, heading,
      h('p', { text: r.name === 'chat' ? 'A conversation id is 1–64 letters, digits, _ or -.' : 'There is no such page.' }),
      h('p', {}, h('a', { href: '#/', text: 'Go to your conversations' }))));
    app.view = { title: 'Not found', focusTarget: heading, unmount() {} };
  }
  if (app.session) setCurrentNav(r.name);
  document.title = `${app.view.title} · AgentoCore console`;
  const target = app.view.focusTarget;
  if (target) target.focus({ preventScroll: false });
}

async function main() {
  initNotices(document.getElementById('notice'), document.getElementById('notice-dismiss'));
  app.config = await loadConfig();
  if (app.config.problems.length) notify(app.config.problems.join(' '), 'error');

  app.session = loadSession(app.config.auth);
  if (app.config.auth === 'jwt') {
    const back = takeCognitoReturn();
    if (back && back.error) notify(back.error, 'error');
    if (back && back.token) {
      try {
        app.session = sessionFor('jwt', back.token);
        saveSession(app.session);
      } catch (err) {
        notify(`The token from Cognito is not usable: ${err.message}`, 'error');
      }
    }
  }
  if (app.session && expired(app.session)) {
    clearSession();
    app.session = null;
    notify('Your token has expired: sign in again.', 'error');
  }

  app.api = createApi({
    base: app.config.api,
    getToken: () => (app.session ? app.session.token : null),
    onUnauthorized: (err) => {
      if (app.session) signOut(`The API refused your token (401: ${err.message}). Sign in again.`);
    },
  });

  el.signOut.addEventListener('click', () => signOut());
  window.addEventListener('hashchange', route);
  showHeader();
  startSocket();
  route();
}

main().catch((err) => {
  console.error(err);
  el.main.replaceChildren(h('p', { class: 'error-text', text: `The console could not start: ${err.message}` }));
});
