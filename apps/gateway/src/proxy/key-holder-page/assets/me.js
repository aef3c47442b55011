// The key holder's page (/me on the proxy port). Plain JavaScript, no framework, nothing from other
// hosts; the Content-Security-Policy allows scripts from this origin only, so nothing runs inline.
//
// What it may learn, and from where: only the holder's own key's answers. The key lives in this tab
// (sessionStorage, gone with the tab or on "Forget key") and is sent only in the Authorization
// header of two same-origin requests:
// - GET /v1/usage: this key's limits, usage and reset times (the gateway answers for the key it was
//   given and no other);
// - GET /v1/models: the model names this key's own allow-list lets it use, for the examples. That is
//   still nothing about other keys: the list is filtered by this key and is what any client of this
//   key already gets from the OpenAI, Anthropic and Ollama APIs; it carries no counts, names or limits
//   of anyone else.
// The key never goes into a URL, a cookie, localStorage or the page's address.
import { buildSnippets } from './snippets.js';

const STORAGE_KEY = 'llmproxy.key';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const form = /** @type {HTMLFormElement} */ ($('key-form'));
const input = /** @type {HTMLInputElement} */ ($('key-input'));
const submit = /** @type {HTMLButtonElement} */ (form.querySelector('button[type="submit"]'));
const refreshButton = /** @type {HTMLButtonElement} */ ($('refresh'));
const forgetButton = /** @type {HTMLButtonElement} */ ($('forget'));
const statusLine = $('status');
const errorBox = $('error');
const result = $('result');

const numbers = new Intl.NumberFormat();
/** Bumped on every load and on forget: an answer for an older request is dropped. */
let generation = 0;

function storedKey() {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: the key lives in the field only
  }
}

function storeKey(key) {
  try {
    if (key === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // storage disabled or full: nothing kept, which is fine
  }
}

function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function showError(title, detail) {
  errorBox.replaceChildren(el('p', title));
  if (detail) errorBox.append(el('p', detail));
  errorBox.hidden = false;
}

function clearError() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
}

function busy(on) {
  for (const button of [submit, refreshButton, forgetButton]) button.disabled = on && button !== forgetButton;
}

/** The gateway's own message from an error body in any of its dialects. */
async function messageOf(response) {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    const message = body?.error?.message ?? body?.error ?? body?.message;
    if (typeof message === 'string' && message) return message;
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 300);
}

/** A same-origin GET with the key in the Authorization header, never in the URL; no cookies. */
function askGateway(path, key) {
  return fetch(path, {
    method: 'GET',
    headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
    credentials: 'omit',
    cache: 'no-store',
    referrerPolicy: 'no-referrer',
  });
}

async function load(key) {
  const mine = ++generation;
  clearError();
  busy(true);
  statusLine.textContent = 'Asking the gateway about this key…';
  let response;
  try {
    response = await askGateway('/v1/usage', key);
  } catch {
    if (mine !== generation) return;
    busy(false);
    statusLine.textContent = '';
    showError(`Could not reach the gateway at ${location.origin}.`, 'Check your network connection and that the server is running, then try again.');
    return;
  }
  if (mine !== generation) return;
  if (!response.ok) {
    const message = await messageOf(response);
    if (mine !== generation) return;
    busy(false);
    statusLine.textContent = '';
    if (response.status === 401) {
      // Not kept: a key the gateway refuses is of no use in this tab.
      storeKey(null);
      result.hidden = true;
      clearResult();
      showError('The gateway does not accept this key.', message ? `It says: ${message}` : 'Check that you pasted the whole key.');
    } else if (response.status === 503) {
      showError('The gateway cannot answer right now.', message ? `It says: ${message}` : 'Try again in a moment.');
    } else {
      showError(`The gateway answered with an error (HTTP ${response.status}).`, message ? `It says: ${message}` : undefined);
    }
    return;
  }
  let usage;
  try {
    usage = await response.json();
  } catch {
    if (mine !== generation) return;
    busy(false);
    statusLine.textContent = '';
    showError('The gateway sent an answer this page does not understand.', 'Try reloading the page.');
    return;
  }
  if (mine !== generation) return;
  storeKey(key);
  renderUsage(usage);
  result.hidden = false;
  statusLine.textContent = `Showing key “${usage.key?.name ?? ''}”.`;
  $('updated').textContent = `Numbers as of ${formatTime(new Date())}.`;
  busy(false);
  await loadModels(key, mine);
}

async function loadModels(key, mine) {
  let names = [];
  let note = '';
  try {
    const response = await askGateway('/v1/models', key);
    if (response.ok) {
      const body = await response.json();
      names = Array.isArray(body?.data) ? body.data.map((model) => String(model.id)) : [];
      if (names.length === 0) note = 'The gateway serves no model this key may use right now; ask its operator.';
    } else {
      note = `The model list is not available (HTTP ${response.status}); the examples use a placeholder name.`;
    }
  } catch {
    note = 'The model list could not be loaded; the examples use a placeholder name.';
  }
  if (mine !== generation) return;
  const list = $('models');
  list.replaceChildren(...names.map((name) => el('li', name)));
  $('models-note').textContent = note;
  renderSnippets(key, names[0] ?? 'MODEL_NAME');
}

function renderUsage(usage) {
  $('key-name').textContent = `“${usage.key?.name ?? ''}”`;
  renderWindow('day', usage.day, usage.time_zone);
  renderWindow('month', usage.month, usage.time_zone);
}

function renderWindow(kind, window, timeZone) {
  const list = $(kind);
  list.replaceChildren();
  const row = (label, id, ...content) => {
    const dd = el('dd', undefined, { 'data-testid': `${kind}-${id}` });
    dd.append(...content);
    list.append(el('dt', label), dd);
  };
  const held = window.reserved_tokens ?? 0;
  row('Requests', 'requests', ...amount(window.requests, window.request_limit, 'request', `${kind === 'day' ? 'Today' : 'This month'}: requests used`));
  // Tokens held by requests still running count against the limit until they are settled.
  row('Tokens', 'tokens', ...amount(window.tokens + held, window.token_limit, 'token', `${kind === 'day' ? 'Today' : 'This month'}: tokens used`, window.tokens));
  row('Held by running requests', 'reserved', counted(held, 'token'));
  row('Resets', 'resets', ...resetTimes(window.resets_at, timeZone));
}

/** "1 request", "1,234 tokens". */
function counted(n, unit) {
  return `${numbers.format(n)} ${unit}${n === 1 ? '' : 's'}`;
}

/** "12 of 100 requests (88 left)" and a meter, or "12 requests (no limit)". `shown` is the used amount in words (tokens without the held ones). */
function amount(used, limit, unit, label, shown = used) {
  if (limit === null || limit === undefined) return [`${counted(shown, unit)} (no limit)`];
  const left = Math.max(0, limit - used);
  unit = `${unit}s`;
  const meter = el('meter', undefined, { min: '0', max: String(Math.max(limit, 1)), value: String(Math.min(used, limit)), 'aria-label': label });
  meter.setAttribute('high', String(limit * 0.8));
  meter.setAttribute('optimum', '0');
  return [`${numbers.format(shown)} of ${numbers.format(limit)} ${unit} (${numbers.format(left)} left)`, meter];
}

function formatTime(date, timeZone) {
  const options = { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' };
  return date.toLocaleString(undefined, timeZone ? { ...options, timeZone } : options);
}

function resetTimes(iso, timeZone) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return [String(iso)];
  const lines = [el('span', `${formatTime(at)} (your time)`)];
  const yours = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (timeZone && timeZone !== yours) {
    let there;
    try {
      there = `${formatTime(at, timeZone)} (the server’s time, ${timeZone})`;
    } catch {
      there = `${iso} (the server’s time, ${timeZone})`;
    }
    lines.push(el('span', there));
  }
  lines.push(el('span', inWords(at.getTime() - Date.now()), { class: 'help' }));
  return lines;
}

function inWords(ms) {
  if (ms <= 0) return 'now';
  const minutes = Math.round(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const parts = [days && `${days} d`, hours && `${hours} h`, !days && `${minutes % 60} min`].filter(Boolean);
  return `in ${parts.join(' ') || 'less than a minute'}`;
}

function renderSnippets(key, model) {
  const box = $('snippets');
  box.replaceChildren();
  for (const snippet of buildSnippets(location.origin, key, model)) {
    const titleId = `snippet-${snippet.id}-title`;
    const section = el('section', undefined, { class: 'snippet', 'aria-labelledby': titleId, 'data-testid': `snippet-${snippet.id}` });
    const head = el('div', undefined, { class: 'snippet-head' });
    const pre = el('pre', undefined, { tabindex: '0', 'aria-labelledby': titleId, 'data-testid': `snippet-code-${snippet.id}` });
    pre.append(el('code', snippet.code));
    const copy = el('button', 'Copy', { type: 'button', 'aria-label': `Copy the ${snippet.label} example`, 'data-testid': `copy-${snippet.id}` });
    copy.addEventListener('click', () => copyText(snippet, pre, copy));
    head.append(el('h4', snippet.label, { id: titleId }), copy);
    section.append(head, pre);
    box.append(section);
  }
}

async function copyText(snippet, pre, button) {
  let copied = false;
  try {
    await navigator.clipboard.writeText(snippet.code);
    copied = true;
  } catch {
    // No clipboard API outside a secure context (plain http to a host other than localhost): select
    // the text and use the older command.
    const range = document.createRange();
    range.selectNodeContents(pre);
    const selection = getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
  }
  button.textContent = copied ? 'Copied' : 'Select and copy';
  statusLine.textContent = copied ? `Copied the ${snippet.label} example.` : `Could not copy: the ${snippet.label} example is selected, copy it by hand.`;
  setTimeout(() => (button.textContent = 'Copy'), 2000);
}

function clearResult() {
  // The examples hold the key: gone from the page too.
  $('snippets').replaceChildren();
  $('models').replaceChildren();
  $('models-note').textContent = '';
  $('day').replaceChildren();
  $('month').replaceChildren();
  $('key-name').textContent = '';
  $('updated').textContent = '';
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = input.value.trim();
  if (!key) {
    showError('Paste your API key first.', 'It starts with sk- and was given to you by the gateway’s operator.');
    input.focus();
    return;
  }
  // Such a key could not even be sent in a header (and the gateway never issues one).
  if (!/^[\x21-\x7e]+$/.test(key)) {
    showError('That is not a key this gateway issues.', 'A key has no spaces or special characters inside; paste it again, exactly as you were given it.');
    input.focus();
    return;
  }
  void load(key);
});

refreshButton.addEventListener('click', () => {
  const key = storedKey() ?? input.value.trim();
  if (key) void load(key);
});

forgetButton.addEventListener('click', () => {
  generation++;
  storeKey(null);
  input.value = '';
  clearResult();
  result.hidden = true;
  clearError();
  busy(false);
  statusLine.textContent = 'The key is forgotten: it is no longer in this tab.';
  input.focus();
});

const kept = storedKey();
if (kept) {
  input.value = kept;
  void load(kept);
}
