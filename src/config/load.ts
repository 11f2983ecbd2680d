/** Reads the config file if present (absent = all defaults) with this host's facts. */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Paths } from '../store/paths.js';
import { parseConfig, type Config } from './config.js';

export function loadConfig(paths: Paths): Config {
  let text = '';
  try {
    text = readFileSync(paths.configFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return parseConfig(text, paths.configFile, {
    cores: cpus().length,
    memoryMib: Math.floor(totalmem() / 1024 / 1024),
    home: paths.home,
    jailerChrootBase: paths.jailerDir,
  });
}
