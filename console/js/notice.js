/**
 * The notices region (role=status, aria-live=polite): one message at a time, announced.
 */

let region = null;
let dismiss = null;
let timer = null;
let writeTimer = null;

export function initNotices(regionEl, dismissButton) {
  region = regionEl;
  dismiss = dismissButton;
  dismiss.addEventListener('click', () => clearNotice());
}

/**
 * Show (and announce) a message.
 * @param {string} message
 * @param {'info'|'success'|'error'} [kind]
 * @param {{timeoutMs?: number}} [opts] info/success notices fade after timeoutMs (default 12 s)
 */
export function notify(message, kind = 'info', { timeoutMs } = {}) {
  if (!region) return;
  clearTimeout(timer);
  clearTimeout(writeTimer);
  // Clear first so that the same text twice in a row is announced again.
  region.textContent = '';
  region.dataset.kind = kind;
  writeTimer = window.setTimeout(() => {
    region.textContent = message;
    dismiss.hidden = false;
  }, 30);
  const ms = timeoutMs ?? (kind === 'error' ? 0 : 12000);
  if (ms > 0) timer = window.setTimeout(clearNotice, ms);
}

export function clearNotice() {
  if (!region) return;
  clearTimeout(timer);
  clearTimeout(writeTimer);
  region.textContent = '';
  delete region.dataset.kind;
  dismiss.hidden = true;
}
