/** Does an HTTP server answer at host:port? One HEAD request with a short deadline; any HTTP status counts. */
import { connect } from 'node:net';

export function answersHttp(host: string, port: number, timeoutMs = 1500): Promise<boolean> {
  return new Promise((resolve) => {
    let buf = '';
    const sock = connect({ host, port });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(`HEAD / HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: banger\r\n\r\n`));
    sock.on('data', (d: string) => {
      buf += d;
      // SSH and other protocols greet first with something else: decide on the first bytes.
      if (buf.length >= 5) finish(buf.startsWith('HTTP/'));
    });
    sock.on('error', () => finish(false));
    sock.on('end', () => finish(buf.startsWith('HTTP/')));
  });
}
