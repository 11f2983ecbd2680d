/**
 * One bangerd per install (issue 11, item 7): before it binds the socket, a daemon takes an
 * exclusive lock on `bangerd.lock` in the state dir, and holds it for as long as it lives. Two
 * daemons started at once (two first-use CLIs) race for the lock, not for the socket file: the
 * loser (after a second of retries, in case the holder is just exiting) exits cleanly
 * (ALREADY_RUNNING_EXIT) saying so, and the CLI that started it keeps waiting for the winner.
 *
 * Node has no flock(2). The lock is SQLite's exclusive lock (better-sqlite3, already the store):
 * a kernel advisory lock (fcntl) on the file, taken without waiting and released by the kernel when
 * the process dies however it dies, so a crashed daemon never leaves a stale lock. No extra process,
 * no native build; children (QEMU) do not inherit it.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';

export { ALREADY_RUNNING_EXIT } from '../api/daemon.js';

/** Kept referenced for the life of the process: closing (or collecting) it would release the lock. */
let held: Database.Database | undefined;

/** A daemon that is exiting (`daemon stop`, a restart) lets go within milliseconds; a live one keeps it. */
const RETRY_FOR_MS = 1_000;

function tryLock(lockPath: string): Database.Database | null {
  const db = new Database(lockPath, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    return null;
  }
}

/** Takes the install's lock, or returns the message to exit with when another live daemon holds it. */
export async function takeInstanceLock(lockPath: string, pidFile: string): Promise<string | null> {
  const deadline = Date.now() + RETRY_FOR_MS;
  let db = tryLock(lockPath);
  while (!db && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    db = tryLock(lockPath);
  }
  if (!db) {
    let pid = '';
    try {
      pid = readFileSync(pidFile, 'utf8').trim();
    } catch {
      // still starting: no pid file yet
    }
    return `bangerd is already running for this install${/^\d+$/.test(pid) ? ` (pid ${pid})` : ''}: it holds ${lockPath}; not starting a second one`;
  }
  held = db;
  return null;
}
