import cliSpinners, { type Spinner } from 'cli-spinners';
import { useEffect, useState } from 'react';

/** The current frame of a cli-spinners spinner (`dots` by default); it only ticks while `active`. */
export function useSpinner(active: boolean, spinner: Spinner = cliSpinners.dots): string {
  const [frame, setFrame] = useState(0);
  useEffect(() => {
    if (!active) return undefined;
    const timer = setInterval(() => setFrame((f) => (f + 1) % spinner.frames.length), spinner.interval);
    return () => clearInterval(timer);
  }, [active, spinner]);
  return spinner.frames[frame % spinner.frames.length] ?? '';
}
