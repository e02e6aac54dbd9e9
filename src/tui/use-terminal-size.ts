import { useStdout } from 'ink';
import { useEffect, useState } from 'react';

/** Size of a terminal when the stream does not say (pipes, test streams). */
const FALLBACK = { columns: 80, rows: 24 };

function sizeOf(stdout: NodeJS.WriteStream): { columns: number; rows: number } {
  return {
    columns: stdout.columns > 0 ? stdout.columns : FALLBACK.columns,
    rows: stdout.rows > 0 ? stdout.rows : FALLBACK.rows,
  };
}

/** The columns and rows of Ink's stdout (80×24 when it does not say), updated on its 'resize' event. */
export function useTerminalSize(): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const [size, setSize] = useState(() => sizeOf(stdout));
  useEffect(() => {
    const onResize = () =>
      setSize((old) => {
        const next = sizeOf(stdout);
        return next.columns === old.columns && next.rows === old.rows ? old : next;
      });
    stdout.on('resize', onResize);
    // The size may have changed between the first render and this effect.
    onResize();
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout]);
  return size;
}
