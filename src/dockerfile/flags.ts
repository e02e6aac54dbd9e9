/** An instruction's leading `--flag[=value]` words (names lowercased) and the text after them. */
export function flagsOf(rest: string): { flags: Array<[string, string]>; args: string } {
  const flags: Array<[string, string]> = [];
  let args = rest;
  for (;;) {
    const m = /^--([A-Za-z-]+)(?:=(\S*))?\s*/.exec(args);
    if (!m) break;
    flags.push([m[1]!.toLowerCase(), m[2] ?? '']);
    args = args.slice(m[0].length);
  }
  return { flags, args };
}

/** `--name=value` as written (for rewriting an instruction with its flags kept). */
export function flagText([name, value]: [string, string]): string {
  return value === '' ? `--${name}` : `--${name}=${value}`;
}
