/** Asks a yes/no question on the terminal (stderr prompt, stdin answer); only y/yes is yes. */
import { createInterface } from 'node:readline/promises';

export const isYes = (answer: string): boolean => /^\s*y(es)?\s*$/i.test(answer);

/** Whether stdin is a terminal a question can be asked on. */
export const canAsk = (): boolean => process.stdin.isTTY === true;

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return isYes(await rl.question(`${question} [y/N] `));
  } finally {
    rl.close();
  }
}
