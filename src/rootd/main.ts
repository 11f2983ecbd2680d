/**
 * bangerd-root: banger's root helper. Serves the small typed API of rootd/api.ts on its own unix
 * socket (chowned to the owner, 0600) to root and the installed owner only (SO_PEERCRED), and does
 * nothing else: bridge, taps owned by the owner, NAT rules tagged with the install id, `.vm` resolver
 * wiring, the Firecracker jailer. Settings come from the install record (/etc/banger/install.json);
 * flags override them (tests, manual runs). Refuses to run unless root.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BangerError } from '../api/errors.js';
import { createTableDispatch } from '../daemon/dispatch.js';
import { startServer } from '../daemon/server.js';
import { onCommand } from '../host/exec.js';
import { createLogger } from '../host/logger.js';
import { buildInfo } from '../host/version.js';
import { createBridgeOps } from '../network/bridge.js';
import { parseCidr } from '../network/ipalloc.js';
import { systemResolved } from '../network/resolved.js';
import { systemPaths } from '../store/paths.js';
import { InstallId, readInstallRecord, type InstallRecord } from '../system/record.js';
import { helperMethods } from './api.js';
import { callHelper } from './client.js';
import { helperHandlers, type HelperConfig } from './handlers.js';
import { createJailerRunner } from './jailer.js';
import { admitPeer, loadPeerCred } from './peercred.js';
import { ensureTunAccess } from './tun.js';

export const HELP = `Usage: bangerd-root [options]

banger's root helper: creates the bridge, the owner's taps and NAT rules, wires .vm name
resolution and starts the Firecracker jailer, for a bangerd that runs as the owner. Serves
only root and the owner (checked with SO_PEERCRED). Must run as root; normally started by
the bangerd-root.service unit that \`sudo banger system install\` writes.

Settings come from the install record (/etc/banger/install.json); each flag overrides one:
  --socket PATH        unix socket to listen on (record: helperSocket)
  --owner-uid N        the only non-root uid allowed to call; taps are owned by it (record: uid)
  --owner-gid N        group of the owner's taps (record: gid)
  --install-id HEX     8 hex digits tagging the bridge alias and rule comments (record: installId)
  --cidr CIDR          guest addresses accepted for the bridge and NAT (default: the install record's,
                       i.e. the owner's [network] cidr at \`system install\`, else 172.30.0.0/24)
  --jailer-base DIR    jailer chroot bases must be inside it (default <record stateDir>/jailer, else /srv/jailer)
  -h, --help           show this help
  --version            print the version
`;

export const DEFAULT_CIDR = '172.30.0.0/24';

export interface HelperFlags {
  socket?: string;
  ownerUid?: string;
  ownerGid?: string;
  installId?: string;
  cidr?: string;
  jailerBase?: string;
}

const bad = (message: string): never => {
  throw new BangerError('bad_request', message);
};

function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) bad(`--${name} must be a number, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** The helper's settings: each flag, else the record, else a default; a missing owner or id is an error saying what to do. */
export function resolveHelperConfig(flags: HelperFlags, record: InstallRecord | null, version: string): Omit<HelperConfig, 'version'> & { version: string } {
  const ownerUid = intFlag('owner-uid', flags.ownerUid) ?? record?.uid;
  const ownerGid = intFlag('owner-gid', flags.ownerGid) ?? record?.gid;
  const installId = flags.installId ?? record?.installId;
  const socket = flags.socket ?? record?.helperSocket;
  const missing = [ownerUid === undefined && '--owner-uid', ownerGid === undefined && '--owner-gid', installId === undefined && '--install-id', socket === undefined && '--socket'].filter(Boolean);
  if (missing.length > 0) bad(`no install record and no ${missing.join(', ')}: run \`sudo banger system install\`, or pass the flags (bangerd-root --help)`);
  if (ownerUid === 0) bad('--owner-uid must not be 0: the owner is the non-root user bangerd runs as');
  if (!InstallId.safeParse(installId).success) bad(`--install-id ${JSON.stringify(installId)} must be 8 lowercase hex digits`);
  if (!socket!.startsWith('/')) bad(`--socket ${socket} must be an absolute path`);
  const cidr = flags.cidr ?? record?.cidr ?? DEFAULT_CIDR;
  parseCidr(cidr); // bad_request naming it
  const jailerBase = flags.jailerBase ?? record?.jailerBase ?? (record ? join(record.stateDir, 'jailer') : '/srv/jailer');
  if (!jailerBase.startsWith('/')) bad(`--jailer-base ${jailerBase} must be an absolute path`);
  return { version, ownerUid: ownerUid!, ownerGid: ownerGid!, installId: installId!, socket: socket!, cidr, jailerBase };
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      socket: { type: 'string' },
      'owner-uid': { type: 'string' },
      'owner-gid': { type: 'string' },
      'install-id': { type: 'string' },
      cidr: { type: 'string' },
      'jailer-base': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
    strict: true,
  });
  const info = buildInfo();
  if (values.help) return void process.stdout.write(HELP);
  if (values.version) return void process.stdout.write(`bangerd-root ${info.version} (${info.commit})\n`);
  if (process.getuid?.() !== 0) throw new BangerError('unavailable', 'bangerd-root must run as root (it creates bridges, taps and iptables rules); it is started by `sudo banger system install`');

  const record = values['owner-uid'] && values['install-id'] && values.socket ? null : readInstallRecord(systemPaths().installRecord);
  const config = resolveHelperConfig(
    { socket: values.socket, ownerUid: values['owner-uid'], ownerGid: values['owner-gid'], installId: values['install-id'], cidr: values.cidr, jailerBase: values['jailer-base'] },
    record,
    info.version,
  );
  const log = createLogger().child({ svc: 'bangerd-root' });
  onCommand((a) => log.debug({ argv: a }, 'run'));
  const peer = loadPeerCred(); // fails closed: no caller check, no helper

  try {
    const other = await callHelper(config.socket, 'helper.status', {}, { timeoutMs: 2000 });
    throw new BangerError('conflict', `bangerd-root (pid ${other.pid}) is already serving ${config.socket}`);
  } catch (err) {
    if (err instanceof BangerError && err.code === 'conflict') throw err;
  }

  ensureTunAccess({ uid: config.ownerUid, gid: config.ownerGid }, log);
  const ops = createBridgeOps({ installId: config.installId, tapOwner: { uid: config.ownerUid, gid: config.ownerGid }, strictBridge: true });
  const jailer = createJailerRunner({ ownerUid: config.ownerUid, ownerGid: config.ownerGid, jailerBase: config.jailerBase, log });
  const dispatch = createTableDispatch(helperMethods, helperHandlers({ config, ops, resolved: systemResolved(), jailer, log }), 'bangerd and bangerd-root versions may differ: run `sudo banger system restart`');
  const server = await startServer({
    socketPath: config.socket,
    dispatch,
    log,
    dirMode: 0o755,
    socketOwner: { uid: config.ownerUid, gid: config.ownerGid },
    admit(sock) {
      let refused: string | null;
      let uid = -1;
      try {
        uid = peer(sock).uid;
        refused = admitPeer(uid, config.ownerUid);
      } catch (err) {
        refused = `cannot identify the caller: ${(err as Error).message}`;
      }
      if (refused) log.warn({ uid }, `refused a connection: ${refused}`);
      return refused;
    },
  });
  log.info({ socket: config.socket, pid: process.pid, ownerUid: config.ownerUid, installId: config.installId, cidr: config.cidr, version: info.version }, 'listening');
  const stop = () => {
    log.info('shutting down (taps, rules and VMs stay)');
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main().catch((err) => {
    process.stderr.write(`bangerd-root: ${err instanceof BangerError ? err.message : (err as Error).stack}\n`);
    process.exit(err instanceof BangerError && err.code === 'bad_request' ? 2 : 1);
  });
}
