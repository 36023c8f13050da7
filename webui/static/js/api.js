// The master's operator API (POST /api/v1, JSON) and its SUBSCRIBE event
// stream, read as RecordIO: each record is "<decimal byte length>\n"
// followed by that many bytes of JSON.

/** RecordIO splits a byte stream into records; lengths count bytes. */
export class RecordIO {
  constructor() {
    this.buf = new Uint8Array(0);
    this.decoder = new TextDecoder();
  }

  /** push appends a chunk and returns the records it completed, decoded. */
  push(chunk) {
    const joined = new Uint8Array(this.buf.length + chunk.length);
    joined.set(this.buf, 0);
    joined.set(chunk, this.buf.length);
    this.buf = joined;
    const out = [];
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) {
        if (this.buf.length > 20) throw new Error('RecordIO: no record length in the first 20 bytes');
        break;
      }
      const header = this.decoder.decode(this.buf.subarray(0, nl)).trim();
      if (!/^\d+$/.test(header)) throw new Error(`RecordIO: bad record length ${JSON.stringify(header)}`);
      const n = Number(header);
      if (this.buf.length < nl + 1 + n) break;
      out.push(this.decoder.decode(this.buf.subarray(nl + 1, nl + 1 + n)));
      this.buf = this.buf.slice(nl + 1 + n);
    }
    return out;
  }
}

/** NotLeading is thrown when this master redirects the UI elsewhere. */
export class NotLeading extends Error {}

/**
 * call sends one operator call and returns the decoded response (or null
 * for an empty body). extra holds the call's message, e.g.
 * {get_metrics: {...}}.
 */
export async function call(type, extra = {}) {
  const resp = await fetch('/api/v1', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ type, ...extra }),
    redirect: 'manual',
  });
  if (resp.type === 'opaqueredirect' || resp.status === 307) throw new NotLeading('this master does not lead');
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${type}: ${resp.status} ${text || resp.statusText}`);
  return text ? JSON.parse(text) : null;
}

/**
 * subscribe keeps a SUBSCRIBE stream open, reconnecting with a growing
 * backoff when it drops. onEvent gets every event; onStatus gets
 * 'connecting', 'live', 'retrying' or 'follower'; onError gets each
 * failure and how many attempts in a row have failed to subscribe. It
 * returns a function that stops it.
 */
export function subscribe({ onEvent, onStatus, onError }) {
  let stopped = false;
  let controller = null;
  let backoff = 250;
  let failures = 0;
  let heartbeatTimer = null;

  const run = async () => {
    while (!stopped) {
      onStatus('connecting');
      controller = new AbortController();
      try {
        const resp = await fetch('/api/v1', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ type: 'SUBSCRIBE' }),
          signal: controller.signal,
          redirect: 'manual',
          cache: 'no-store',
        });
        if (resp.type === 'opaqueredirect' || resp.status === 307) {
          onStatus('follower');
          return;
        }
        if (!resp.ok) throw new Error(`SUBSCRIBE: ${resp.status} ${await resp.text()}`);
        const reader = resp.body.getReader();
        const rio = new RecordIO();
        let heartbeat = 15;
        const arm = () => {
          clearTimeout(heartbeatTimer);
          // A stream silent for several heartbeats is dead even if TCP
          // has not noticed: abort it and reconnect.
          heartbeatTimer = setTimeout(() => controller.abort(), heartbeat * 3000);
        };
        arm();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) throw new Error('the master closed the event stream');
          arm();
          for (const rec of rio.push(value)) {
            const ev = JSON.parse(rec);
            if (ev.type === 'SUBSCRIBED') {
              heartbeat = ev.subscribed?.heartbeat_interval_seconds || 15;
              arm();
              backoff = 250;
              failures = 0;
              onStatus('live');
            }
            onEvent(ev);
          }
        }
      } catch (err) {
        clearTimeout(heartbeatTimer);
        if (stopped) return;
        failures++;
        onError?.(err, failures);
        onStatus('retrying');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10000);
      }
    }
  };
  run();
  return () => {
    stopped = true;
    clearTimeout(heartbeatTimer);
    controller?.abort();
  };
}

/**
 * leaderURL finds the leading master's UI from this master's /master/state
 * (read once, when this master redirects the UI): its "leader" pid,
 * master@host:port.
 */
export async function leaderURL() {
  const resp = await fetch('/master/state', { cache: 'no-store' });
  if (!resp.ok) return null;
  const state = await resp.json();
  const m = /@(.+)$/.exec(state.leader || '');
  if (!m || state.leader === state.pid) return null;
  return `${location.protocol}//${m[1]}/${location.hash}`;
}

/**
 * reachable reports whether anything answers HTTP at a master's address,
 * without reading the answer (another origin; no CORS needed).
 */
export async function reachable(addr, ms = 2000) {
  const c = new AbortController();
  const timer = setTimeout(() => c.abort(), ms);
  try {
    await fetch(`${location.protocol}//${addr}/health`, { mode: 'no-cors', cache: 'no-store', signal: c.signal });
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** agentBase is an agent's HTTP base URL from its pid, slave(1)@ip:port. */
export function agentBase(pid) {
  const m = /@(.+)$/.exec(pid || '');
  return m ? `${location.protocol}//${m[1]}` : null;
}

/** agentGet fetches JSON from an agent (the agent answers with CORS headers). */
export async function agentGet(base, path) {
  const resp = await fetch(base + path, { cache: 'no-store' });
  const text = await resp.text();
  if (!resp.ok) throw new Error(`${path}: ${resp.status} ${text || resp.statusText}`);
  return JSON.parse(text);
}
