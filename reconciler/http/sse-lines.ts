// Pure: raw log chunks as Server-Sent Events, one `data:` event per line. A
// line split across chunks is held until its end arrives; a carriage return
// ends nothing (progress bars), it is dropped.
export class SseLines {
  private partial = '';
  private readonly decoder = new TextDecoder();

  /** The events for `chunk` (complete lines only). */
  push(chunk: Uint8Array): string {
    const text = this.partial + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    return lines.map(dataEvent).join('');
  }

  /** The held partial line, if any, as an event. */
  flush(): string {
    const rest = this.partial + this.decoder.decode();
    this.partial = '';
    return rest ? dataEvent(rest) : '';
  }
}

function dataEvent(line: string): string {
  return `data: ${line.replace(/\r/g, '')}\n\n`;
}

export function namedEvent(name: string, data: string): string {
  return `event: ${name}\ndata: ${data.replace(/[\r\n]/g, ' ')}\n\n`;
}
