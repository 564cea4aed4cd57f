/** Buffered, back-pressure-aware writing of CLI output to a stream (stdout). */

export interface LineWriter {
  /** Write `text` followed by a newline. */
  line(text?: string): Promise<void>;
  /** Write `text` as is. */
  write(text: string): Promise<void>;
  /** Push everything buffered to the stream. */
  flush(): Promise<void>;
}

const CHUNK = 64 * 1024;

export function streamWriter(stream: NodeJS.WritableStream): LineWriter {
  let buffer = '';
  const push = async (): Promise<void> => {
    if (buffer.length === 0) return;
    const text = buffer;
    buffer = '';
    if (!stream.write(text)) {
      await new Promise<void>((resolve) => stream.once('drain', resolve));
    }
  };
  return {
    async write(text) {
      buffer += text;
      if (buffer.length >= CHUNK) await push();
    },
    async line(text = '') {
      buffer += `${text}\n`;
      if (buffer.length >= CHUNK) await push();
    },
    flush: push,
  };
}

/** A writer that collects everything in memory (tests, small outputs). */
export function memoryWriter(): LineWriter & { text(): string } {
  const parts: string[] = [];
  return {
    async write(text) {
      parts.push(text);
    },
    async line(text = '') {
      parts.push(`${text}\n`);
    },
    async flush() {},
    text: () => parts.join(''),
  };
}
