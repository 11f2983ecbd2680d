/** Generated VM names: adjective-noun-NN, always valid under NAME_PATTERN. */
import { randomInt } from 'node:crypto';

const ADJECTIVES = ['brave', 'calm', 'eager', 'fuzzy', 'gentle', 'happy', 'jolly', 'keen', 'lucky', 'merry', 'nimble', 'proud', 'quick', 'rapid', 'sunny', 'tidy', 'witty', 'zesty'];
const NOUNS = ['otter', 'falcon', 'badger', 'heron', 'lynx', 'marten', 'puffin', 'raven', 'stoat', 'tern', 'walrus', 'wombat', 'yak', 'zebra', 'bison', 'crane'];

export function generateName(taken: (name: string) => boolean, rand: (n: number) => number = randomInt): string {
  for (let i = 0; i < 100; i++) {
    const name = `${ADJECTIVES[rand(ADJECTIVES.length)]}-${NOUNS[rand(NOUNS.length)]}-${rand(90) + 10}`;
    if (!taken(name)) return name;
  }
  throw new Error('could not generate a free VM name; pass --name');
}
