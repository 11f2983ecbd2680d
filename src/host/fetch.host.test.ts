/**
 * hostFetch against a real TLS server on 127.0.0.1 whose certificate a private CA signed (as a
 * TLS-inspecting company proxy's is), and through a real CONNECT proxy on 127.0.0.1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caFiles, createHostFetch, pemCertificates, trustedCertificates } from './fetch.js';

let dir: string;
let caFile: string;
let server: HttpsServer;
let proxy: HttpServer;
let url: string;
let proxyUrl: string;
const connects: string[] = [];

const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'banger-fetch-'));
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=banger test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'srv.key', '-out', 'srv.csr');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'ext', '-out', 'srv.crt');
  caFile = join(dir, 'bundle.crt');
  // A bundle as distributions write them: comments between certificates.
  writeFileSync(caFile, `# banger test\n${readFileSync(join(dir, 'ca.crt'), 'utf8')}\n# end\n`);

  server = createHttpsServer({ key: readFileSync(join(dir, 'srv.key')), cert: readFileSync(join(dir, 'srv.crt')) }, (_req, res) => res.end('hello over tls'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/x`;

  proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, sock, head) => {
    connects.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const up = connect(Number(port), host, () => {
      sock.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(sock).pipe(up);
    });
    up.on('error', () => sock.destroy());
    sock.on('error', () => up.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  proxy?.closeAllConnections();
  await new Promise((r) => server?.close(r));
  await new Promise((r) => proxy?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('hostFetch', () => {
  it('Node fetch alone refuses a certificate from a CA only the system store knows', async () => {
    const err = await fetch(url).then(() => null, (e: Error) => e);
    expect(String((err?.cause as Error | undefined)?.message)).toMatch(/self[- ]signed|unable to verify|local issuer/i);
  });

  it('trusts a CA from the system bundle (here: SSL_CERT_FILE) besides Node own list', async () => {
    const f = createHostFetch({ SSL_CERT_FILE: caFile }, []);
    const res = await f(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello over tls');
  });

  it('without that CA it still refuses (the check is not switched off)', async () => {
    const f = createHostFetch({}, ['/nonexistent/ca.crt']);
    await expect(f(url)).rejects.toThrow(/fetch failed/);
  });

  it('reads the distribution bundles that exist and skips the others', () => {
    const withCa = trustedCertificates({}, ['/nonexistent/ca.crt', caFile]);
    const without = trustedCertificates({}, ['/nonexistent/ca.crt']);
    expect(withCa.length).toBe(without.length + 1);
    expect(withCa).toContain(pemCertificates(readFileSync(caFile, 'utf8'))[0]);
  });

  it('goes through HTTPS_PROXY with a CONNECT, and around it for NO_PROXY', async () => {
    connects.length = 0;
    const viaProxy = createHostFetch({ SSL_CERT_FILE: caFile, HTTPS_PROXY: proxyUrl }, []);
    expect(await (await viaProxy(url)).text()).toBe('hello over tls');
    expect(connects).toEqual([new URL(url).host]);

    connects.length = 0;
    const bypass = createHostFetch({ SSL_CERT_FILE: caFile, HTTPS_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' }, []);
    expect(await (await bypass(url)).text()).toBe('hello over tls');
    expect(connects).toEqual([]);
  });
});

describe('caFiles', () => {
  it('puts SSL_CERT_FILE and NODE_EXTRA_CA_CERTS first and drops duplicates', () => {
    expect(caFiles({ SSL_CERT_FILE: '/a', NODE_EXTRA_CA_CERTS: '/b' }, ['/b', '/c'])).toEqual(['/a', '/b', '/c']);
    expect(caFiles({}, ['/c'])).toEqual(['/c']);
  });
});
