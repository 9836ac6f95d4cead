/**
 * Sign-in page. auth "dev": a user id (the token is the id itself). auth "jwt": Cognito's
 * hosted UI (implicit flow) when configured, or a pasted JWT (decoded here, verified by the API).
 */

import { h, uid } from '../dom.js';
import { USER_ID_PATTERN, decodeJwt, groupsOf, sessionFor, startCognito } from '../auth.js';

/**
 * @param {HTMLElement} main
 * @param {object} ctx {config, signIn(session)}
 */
export function mountSignIn(main, ctx) {
  const { config } = ctx;
  const titleId = uid('signin-title');
  const heading = h('h1', { id: titleId, tabindex: '-1', text: 'Sign in' });
  const section = h('section', { class: 'signin card', 'aria-labelledby': titleId }, heading);
  main.append(section);
  let focusTarget = heading;

  if (config.auth === 'dev') {
    const inputId = uid('user');
    const hintId = uid('user-hint');
    const errorId = uid('user-error');
    const input = h('input', {
      id: inputId, name: 'user', type: 'text', 'data-testid': 'signin-user', autocomplete: 'username',
      required: true, maxlength: '128', pattern: '[A-Za-z0-9@._:+\\-]{1,128}', // (v-flag safe)
      spellcheck: 'false', autocapitalize: 'none', 'aria-describedby': `${hintId} ${errorId}`,
    });
    const error = h('p', { id: errorId, class: 'field-error', hidden: true });
    const form = h('form', { class: 'stack', novalidate: true },
      h('label', { for: inputId, text: 'User id' }), input,
      h('p', { id: hintId, class: 'hint' },
        'Local stack: any user id; ', h('code', { text: 'approver' }), ' is in the approvers group.'),
      error,
      h('button', { type: 'submit', 'data-testid': 'signin-submit', text: 'Sign in' }));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const user = input.value.trim();
      if (!USER_ID_PATTERN.test(user)) {
        error.textContent = 'A user id is 1–128 letters, digits or @ . _ : + - characters.';
        error.hidden = false;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      ctx.signIn(sessionFor('dev', user));
    });
    section.append(form);
    focusTarget = input;
  } else {
    if (config.cognito) {
      const button = h('button', { type: 'button', 'data-testid': 'signin-cognito', text: 'Sign in with Cognito' });
      button.addEventListener('click', () => startCognito(config.cognito));
      section.append(h('div', { class: 'stack' }, button),
        h('p', { class: 'divider', text: 'or paste a token' }));
      focusTarget = button;
    }
    const tokenId = uid('jwt');
    const infoId = uid('jwt-info');
    const textarea = h('textarea', {
      id: tokenId, name: 'token', rows: '5', 'data-testid': 'signin-token', spellcheck: 'false',
      autocomplete: 'off', 'aria-describedby': infoId, class: 'mono',
    });
    const info = h('p', { id: infoId, class: 'hint', 'aria-live': 'polite', text: 'Paste an id token (JWT) issued for this API.' });
    const submit = h('button', { type: 'submit', 'data-testid': 'signin-submit', text: 'Sign in with this token' });
    const form = h('form', { class: 'stack', novalidate: true },
      h('label', { for: tokenId, text: 'JWT (id token)' }), textarea, info, submit);

    const describe = () => {
      const token = textarea.value.trim();
      info.classList.remove('error-text');
      if (!token) {
        info.textContent = 'Paste an id token (JWT) issued for this API.';
        return null;
      }
      try {
        const payload = decodeJwt(token);
        const approver = groupsOf(payload).includes('approvers');
        const exp = typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : null;
        const expired = exp !== null && exp.getTime() <= Date.now();
        info.textContent = `sub: ${payload.sub ?? '(none)'} · approvers group: ${approver ? 'yes' : 'no'}` +
          (exp ? ` · ${expired ? 'expired' : 'expires'} ${exp.toLocaleString()}` : '');
        if (expired || !payload.sub) info.classList.add('error-text');
        return { payload, expired };
      } catch (err) {
        info.textContent = `Not a readable JWT: ${err.message}`;
        info.classList.add('error-text');
        return null;
      }
    };
    textarea.addEventListener('input', describe);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const d = describe();
      if (!d || !d.payload.sub || d.expired) {
        if (d && d.expired) info.textContent = `${info.textContent}: this token has expired.`;
        textarea.focus();
        return;
      }
      try {
        ctx.signIn(sessionFor('jwt', textarea.value.trim()));
      } catch (err) {
        info.textContent = err.message;
        info.classList.add('error-text');
      }
    });
    section.append(form);
    if (!config.cognito) focusTarget = textarea;
  }

  return { title: 'Sign in', focusTarget, unmount() {} };
}
