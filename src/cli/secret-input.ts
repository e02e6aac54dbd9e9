import { DepotError } from '../session/index.js';

/**
 * Reads a secret typed on a terminal without echoing it: raw mode, no echo; Enter ends it,
 * Backspace erases, Ctrl-C cancels, Ctrl-D on an empty line ends with ''. The prompt goes to stderr.
 */
export function readSecretFromTty(
  prompt: string,
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(prompt);
    let value = '';
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.resume();
    const done = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new DepotError('cancelled', 'cancelled'));
        if (ch === '\u0004') {
          if (value === '') return done();
          continue;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}
