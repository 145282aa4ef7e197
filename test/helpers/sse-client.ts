// A Server-Sent Events client for tests: raw HTTP, every event kept in order.
import { get, type IncomingMessage } from 'node:http';

export interface SseEvent {
  event: string;
  data: string;
}

export interface SseClient {
  events: SseEvent[];
  status: Promise<number>;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  close(): void;
}

export function openSse(url: string): SseClient {
  const events: SseEvent[] = [];
  let buf = '';
  let res: IncomingMessage | undefined;
  let endResolve!: () => void;
  const ended = new Promise<void>((r) => (endResolve = r));
  const req = get(url, { headers: { Accept: 'text/event-stream' } });
  const status = new Promise<number>((resolve, reject) => {
    req.on('error', (e) => (res ? endResolve() : reject(e)));
    req.on('response', (r) => {
      res = r;
      resolve(r.statusCode ?? 0);
      r.setEncoding('utf8');
      r.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length) events.push({ event, data: data.join('\n') });
        }
      });
      r.on('end', () => endResolve());
      r.on('close', () => endResolve());
    });
  });
  return { events, status, ended, close: () => req.destroy() };
}
