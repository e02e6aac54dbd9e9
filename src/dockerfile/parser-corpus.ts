/**
 * Tricky Dockerfiles and how BuildKit 0.8's Dockerfile frontend (Docker 20.10, the builder's
 * engine) reads each: the measure of the Dockerfile parser. parser-fidelity.test.ts holds our
 * parser and dockerfile-ast to these readings; test/integration/dockerfile-parser.test.ts checks
 * every reading against a real engine (the steps it runs, the line of an instruction, the error).
 */

/** How a frontend reads a Dockerfile: its escape character and its instructions. */
export interface Reading {
  escape: '\\' | '`';
  /** The `# syntax=` frontend image, when BuildKit hands the file to one (then no engine here builds it). */
  syntax?: string;
  /** 1-based line, upper-case keyword, arguments as written (flags included, continuations joined, trimmed). */
  instructions: Array<[line: number, keyword: string, rest: string]>;
}

export interface CorpusCase {
  name: string;
  dockerfile: string;
  /** Files of the build context (what its COPY instructions read). */
  context?: Record<string, string>;
  /** BuildKit 0.8's reading, or the error it refuses the file with. */
  buildkit: Reading | { rejects: string };
  /**
   * For a file BuildKit 0.8 refuses: how Dockerfile syntax 1.4 and later read it (heredocs), from
   * BuildKit's parser (frontend/dockerfile/parser/parser.go); no engine here runs that frontend.
   */
  later?: Reading;
}

export const PARSER_CORPUS: CorpusCase[] = [
  {
    name: 'continuation over comment, empty and whitespace lines',
    dockerfile: [
      'FROM busybox',
      'RUN echo one \\',
      '# a comment inside',
      '    two \\',
      '',
      '   \\',
      '  # an indented comment',
      '    three',
      'RUN echo four',
      '',
    ].join('\n'),
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo one     two        three'],
        [9, 'RUN', 'echo four'],
      ],
    },
  },
  {
    name: 'an empty line does not end a continuation',
    dockerfile: 'FROM busybox\nRUN echo a \\\n\nRUN echo b\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo a RUN echo b'],
      ],
    },
  },
  {
    name: 'a doubled escape character ends the line',
    dockerfile: 'FROM busybox\nRUN echo x \\\\\nRUN echo y\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo x \\\\'],
        [3, 'RUN', 'echo y'],
      ],
    },
  },
  {
    name: 'escape directive: backtick continues, backslash is a character',
    dockerfile: [
      '# escape=`',
      'FROM busybox',
      'RUN echo a `',
      '  b',
      'WORKDIR C:\\x\\',
      'RUN echo c',
      '',
    ].join('\n'),
    buildkit: {
      escape: '`',
      instructions: [
        [2, 'FROM', 'busybox'],
        [3, 'RUN', 'echo a   b'],
        [5, 'WORKDIR', 'C:\\x\\'],
        [6, 'RUN', 'echo c'],
      ],
    },
  },
  {
    name: 'directive indented, upper case, spaced',
    dockerfile: '   #  ESCAPE = `\nFROM busybox\nRUN echo a `\n b\n',
    buildkit: {
      escape: '`',
      instructions: [
        [2, 'FROM', 'busybox'],
        [3, 'RUN', 'echo a  b'],
      ],
    },
  },
  {
    name: 'an unknown directive ends the directives',
    dockerfile: '# foo=bar\n# escape=`\nFROM busybox\nWORKDIR /a`\nWORKDIR /b\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [3, 'FROM', 'busybox'],
        [4, 'WORKDIR', '/a`'],
        [5, 'WORKDIR', '/b'],
      ],
    },
  },
  {
    name: 'a blank line ends the directives',
    dockerfile: '\n# escape=`\nFROM busybox\nWORKDIR /a`\nWORKDIR /b\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [3, 'FROM', 'busybox'],
        [4, 'WORKDIR', '/a`'],
        [5, 'WORKDIR', '/b'],
      ],
    },
  },
  {
    name: '# syntax= is looked for past other keys, its first word is the image',
    dockerfile:
      '# foo=bar\n# syntax=frontend.invalid/dockerfile:1 --opt\n# escape=`\nFROM busybox\nWORKDIR /a`\n',
    buildkit: {
      escape: '\\',
      syntax: 'frontend.invalid/dockerfile:1',
      instructions: [
        [4, 'FROM', 'busybox'],
        [5, 'WORKDIR', '/a`'],
      ],
    },
  },
  {
    name: '# syntax= after a blank line is a comment',
    dockerfile: '\n# syntax=frontend.invalid/dockerfile:1\nFROM busybox\nRUN echo hi\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [3, 'FROM', 'busybox'],
        [4, 'RUN', 'echo hi'],
      ],
    },
  },
  {
    name: 'a repeated directive',
    dockerfile: '# escape=`\n# escape=\\\nFROM busybox\n',
    buildkit: { rejects: 'only one escape parser directive can be used' },
  },
  {
    name: 'heredoc RUN',
    dockerfile: 'FROM busybox\nRUN <<EOF\necho hi\nEOF\nRUN echo after\n',
    buildkit: { rejects: 'dockerfile parse error line 3: unknown instruction: ECHO' },
    later: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', '<<EOF'],
        [5, 'RUN', 'echo after'],
      ],
    },
  },
  {
    name: 'several heredocs on a line, <<- and quoted terminators, COPY and ADD',
    dockerfile: [
      'FROM busybox',
      'RUN cat <<-A <<"B" > /x',
      '\tFROM inside-a',
      '\tA',
      'FROM inside-b',
      'B',
      "COPY <<'EOF' /f",
      'RUN not-an-instruction',
      'EOF',
      'ADD <<EOF /g',
      'FROM x',
      'EOF',
      'RUN echo "<<NOT" a heredoc',
      '',
    ].join('\n'),
    buildkit: { rejects: 'dockerfile parse error line 4: unknown instruction: A' },
    later: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'cat <<-A <<"B" > /x'],
        [7, 'COPY', "<<'EOF' /f"],
        [10, 'ADD', '<<EOF /g'],
        [13, 'RUN', 'echo "<<NOT" a heredoc'],
      ],
    },
  },
  {
    name: 'COPY --from, RUN --mount from=, FROM --platform, quoted flag values',
    dockerfile: [
      'FROM --platform=linux/amd64 busybox AS tools',
      'FROM busybox',
      'RUN --mount=type=bind,from=tools,target=/m ls /m/bin/sh',
      'COPY --from=tools --chown="0:0" /bin/sh /sh',
      '',
    ].join('\n'),
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', '--platform=linux/amd64 busybox AS tools'],
        [2, 'FROM', 'busybox'],
        [3, 'RUN', '--mount=type=bind,from=tools,target=/m ls /m/bin/sh'],
        [4, 'COPY', '--from=tools --chown="0:0" /bin/sh /sh'],
      ],
    },
  },
  {
    name: 'ARG before FROM, lower-case keywords',
    dockerfile:
      'arg IMG=busybox\nfrom $IMG as Build\nrun echo built\nfrom busybox\nworkdir /w\ncopy --from=build /bin/sh /sh\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'ARG', 'IMG=busybox'],
        [2, 'FROM', '$IMG as Build'],
        [3, 'RUN', 'echo built'],
        [4, 'FROM', 'busybox'],
        [5, 'WORKDIR', '/w'],
        [6, 'COPY', '--from=build /bin/sh /sh'],
      ],
    },
  },
  {
    name: 'CRLF line ends',
    dockerfile: 'FROM busybox\r\nRUN echo a \\\r\n  b\r\n\r\nRUN echo c\r\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo a   b'],
        [5, 'RUN', 'echo c'],
      ],
    },
  },
  {
    name: 'byte-order mark before a directive',
    dockerfile: '\uFEFF# escape=`\nFROM busybox\nRUN echo a `\n b\n',
    buildkit: {
      escape: '`',
      instructions: [
        [2, 'FROM', 'busybox'],
        [3, 'RUN', 'echo a  b'],
      ],
    },
  },
  {
    name: 'JSON form, continued, and text that only looks like JSON',
    dockerfile: [
      'FROM busybox',
      'RUN ["echo", \\',
      '  "a b"]',
      'COPY ["a b.txt", "/x/"]',
      'CMD [ "sh" ]',
      'RUN [ -e /x/a\\ b.txt ]',
      '',
    ].join('\n'),
    context: { 'a b.txt': 'a b\n' },
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', '["echo",   "a b"]'],
        [4, 'COPY', '["a b.txt", "/x/"]'],
        [5, 'CMD', '[ "sh" ]'],
        [6, 'RUN', '[ -e /x/a\\ b.txt ]'],
      ],
    },
  },
  {
    name: 'escape character at the end of the file',
    dockerfile: 'FROM busybox\nRUN echo z \\',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo z'],
      ],
    },
  },
  {
    name: 'escape character, then only a comment, to the end of the file',
    dockerfile: 'FROM busybox\nRUN echo z \\\n# the end\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo z'],
      ],
    },
  },
  {
    name: 'escape character alone on a line, escape then spaces',
    dockerfile: 'FROM busybox\nRUN echo a \\\n\\\n  b \\   \n  c\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo a   b   c'],
      ],
    },
  },
  {
    name: 'a comment ending in the escape character does not continue',
    dockerfile: 'FROM busybox\n# a comment \\\nRUN echo z\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [3, 'RUN', 'echo z'],
      ],
    },
  },
  {
    name: 'tabs and indentation',
    dockerfile: 'FROM\tbusybox\n\t  RUN\t echo z\n    WORKDIR   /w  \n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'RUN', 'echo z'],
        [3, 'WORKDIR', '/w'],
      ],
    },
  },
  {
    name: 'ONBUILD with a continuation',
    dockerfile: 'FROM busybox\nONBUILD RUN echo a \\\n  b\nRUN echo c\n',
    buildkit: {
      escape: '\\',
      instructions: [
        [1, 'FROM', 'busybox'],
        [2, 'ONBUILD', 'RUN echo a   b'],
        [4, 'RUN', 'echo c'],
      ],
    },
  },
];
