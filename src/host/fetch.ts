/**
 * The only place the host fetches over HTTP(S) (mise for the default image, image catalogs and
 * bundles). Node's own fetch trusts only the CA list compiled into Node and ignores proxy settings, so
 * behind a TLS-inspecting proxy — whose CA the machine's administrator put in the system store, as on
 * many company networks — it fails with "self-signed certificate in certificate chain" while curl, apt
 * and git work. Here the system store and NODE_EXTRA_CA_CERTS are trusted besides Node's list, and
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY are honoured, as the other host tools do.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';

/** Where distributions keep the system CA bundle; SSL_CERT_FILE (OpenSSL's own setting) comes first. */
export const SYSTEM_CA_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Arch
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/ssl/cert.pem', // Alpine
];

/** PEM certificates from text (a bundle may carry comments between them). Pure. */
export function pemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The CA files to read, in order, without duplicates. Pure. */
export function caFiles(env: NodeJS.ProcessEnv, systemFiles: string[] = SYSTEM_CA_FILES): string[] {
  return [...new Set([env.SSL_CERT_FILE, env.NODE_EXTRA_CA_CERTS, ...systemFiles].filter((f): f is string => !!f))];
}

/** Node's CA list plus every readable file of `caFiles` (an unreadable one is skipped). */
export function trustedCertificates(env: NodeJS.ProcessEnv = process.env, systemFiles?: string[]): string[] {
  const all = new Set(rootCertificates);
  for (const file of caFiles(env, systemFiles)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const pem of pemCertificates(text)) all.add(pem);
  }
  return [...all];
}

export type HostFetch = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

/** A fetch that trusts `trustedCertificates(env)` and uses env's proxy settings. */
export function createHostFetch(env: NodeJS.ProcessEnv = process.env, systemFiles?: string[]): HostFetch {
  // undici is loaded on first use: most commands never fetch.
  let ready: Promise<{ undici: typeof import('undici'); agent: import('undici').Dispatcher }> | null = null;
  return async (url, init = {}) => {
    ready ??= import('undici').then((undici) => {
      const ca = trustedCertificates(env, systemFiles);
      const agent = new undici.EnvHttpProxyAgent({
        httpProxy: env.http_proxy ?? env.HTTP_PROXY,
        httpsProxy: env.https_proxy ?? env.HTTPS_PROXY,
        noProxy: env.no_proxy ?? env.NO_PROXY,
        // The target's TLS (direct or through a CONNECT proxy) and an https proxy's own TLS.
        connect: { ca },
        requestTls: { ca },
        proxyTls: { ca },
      });
      return { undici, agent };
    });
    const { undici, agent } = await ready;
    return (await undici.fetch(url, { ...init, dispatcher: agent })) as unknown as Response;
  };
}

/** fetch(), trusting the system's CAs and honouring the proxy environment; one pool per process. */
export const hostFetch: HostFetch = createHostFetch();
