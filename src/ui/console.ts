/**
 * `GET /ui/vms/<vm>/console`: the guest's serial console (what `vm logs -f` prints) as server-sent
 * events: the last 64 KiB, then what is appended as it is written. Bytes are sent as text; the page
 * strips terminal escape sequences before showing them.
 */
import { createReadStream, statSync, watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

const TAIL = 64 * 1024;

export function serveConsole(path: string, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  const size = () => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  let pos = Math.max(0, size() - TAIL);
  let reading = false;
  let again = false;
  const pump = () => {
    if (reading) return void (again = true);
    const end = size();
    if (end < pos) pos = 0; // the file was replaced (a new boot)
    if (end <= pos) return;
    reading = true;
    const chunks: Buffer[] = [];
    createReadStream(path, { start: pos, end: end - 1 })
      .on('data', (c) => chunks.push(c as Buffer))
      .on('error', () => (reading = false))
      .on('end', () => {
        pos = end;
        reading = false;
        if (!res.destroyed) res.write(`data: ${JSON.stringify(Buffer.concat(chunks).toString('utf8'))}\n\n`);
        if (again) (again = false), pump();
      });
  };
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(path, pump);
  } catch {
    // no console yet (never started): the timer below picks it up
  }
  const timer = setInterval(pump, 1000); // a replaced file is not seen by the old watch
  pump();
  req.on('close', () => {
    watcher?.close();
    clearInterval(timer);
  });
}
