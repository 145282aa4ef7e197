// Fetching from the JSON API (same origin).
export async function get(path) {
  const res = await fetch(`/api/v1${path}`, { headers: { Accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

/** Follow a build's live log: onLine(text), onEvent(name, data); returns a close function. */
export function followLog(key, onLine, onEvent) {
  const es = new EventSource(`/api/v1/builds/${encodeURIComponent(key)}/log/stream`);
  es.onmessage = (e) => onLine(e.data);
  for (const name of ['attempt', 'end', 'error']) es.addEventListener(name, (e) => onEvent(name, e.data ?? ''));
  es.addEventListener('end', () => es.close());
  return () => es.close();
}
