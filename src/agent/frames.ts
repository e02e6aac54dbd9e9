/**
 * The framing of a build run through the agent's warm worker (see worker.ts): after the request
 * line, both ends exchange frames of one type byte, a 4-byte big-endian length and the payload.
 * Output is bytes, not JSON lines, so a build's stdout reaches a pipe exactly as it was written.
 */

export const Frame = {
  /** worker → client: the build runs here; nothing was written before it. */
  accepted: 0,
  stdout: 1,
  stderr: 2,
  /** worker → client: the exit status (decimal), the last frame. */
  exit: 3,
  /** agent → client: no warm worker for this request (the reason); run the build in process. */
  declined: 4,
  /** client → worker: a signal the client received (SIGINT, SIGTERM). */
  signal: 5,
  /** client → worker: the terminal's new size, "COLUMNS ROWS". */
  resize: 6,
} as const;
export type FrameType = (typeof Frame)[keyof typeof Frame];

/** Largest payload a reader accepts: output is written in chunks far below it. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export function frame(type: FrameType, payload: Buffer | string = ''): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.allocUnsafe(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames; calls `onFrame` for each. Returns the data handler. */
export function frameReader(onFrame: (type: number, payload: Buffer) => void) {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk: Buffer): void => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (len > MAX_FRAME_BYTES) throw new Error(`frame of ${len} bytes is over the limit`);
      if (buf.length < 5 + len) return;
      const type = buf[0]!;
      const payload = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      onFrame(type, payload);
    }
  };
}
