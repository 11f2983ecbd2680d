/**
 * What the driver-conformance suite needs around a Driver, chosen from the driver's features: the
 * golden kernel and image, a per-VM disk in a format the driver boots, and a network path from this
 * process to the guest's sshd. Traffic goes only to 127.0.0.1 or into a namespace created here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { ImageManifest } from '../src/api/image.js';
import { KernelManifest } from '../src/api/kernel.js';
import { run, spawnProcess, type ProcessHandle } from '../src/host/exec.js';
import type { Logger } from '../src/host/logger.js';
import { IMAGE_FILES } from '../src/store/paths.js';
import type { BootArgsInput } from '../src/hypervisor/bootargs.js';
import type { VmSpec } from '../src/hypervisor/driver.js';
import { USER_NET } from '../src/hypervisor/usernet.js';
import { prepareRawDisk } from '../src/hypervisor/firecracker/disk.js';
import { createOverlay } from '../src/hypervisor/qemu/disk.js';
import { freePort } from '../src/host/freeport.js';

export interface GuestArtifacts {
  kernelPath: string;
  initrdPath: string;
  /** Raw ext4 image. */
  rootfsPath: string;
  label: string;
}

/** The default kernel and image of an install's state dir (`<root>/state/banger`), as the golden fixture holds them. */
export function artifactsFromState(stateDir: string): GuestArtifacts {
  const manifests = <T>(dir: string, parse: (v: unknown) => T) =>
    readdirSync(join(stateDir, dir)).map((sha) => ({ dir: join(stateDir, dir, sha), m: parse(JSON.parse(readFileSync(join(stateDir, dir, sha, 'manifest.json'), 'utf8'))) }));
  const kernels = manifests('kernels', (v) => KernelManifest.parse(v));
  const images = manifests('images', (v) => ImageManifest.parse(v));
  for (const image of images) {
    const kernel = kernels.find((k) => k.m.name === image.m.kernelRef) ?? (kernels.length === 1 ? kernels[0] : undefined);
    if (!kernel?.m.files.vmlinux || !kernel.m.files.initrd) continue;
    return {
      kernelPath: join(kernel.dir, kernel.m.files.vmlinux.path),
      initrdPath: join(kernel.dir, kernel.m.files.initrd.path),
      rootfsPath: join(image.dir, IMAGE_FILES.rootfs),
      label: `kernel ${kernel.m.name} (${kernel.m.release}), image ${image.m.name}`,
    };
  }
  throw new Error(`no image with a matching vmlinux + initrd kernel under ${stateDir}`);
}

export interface VmDisk {
  path: string;
  format: 'qcow2' | 'raw';
  release(): Promise<void>;
}

/** A writable per-VM disk over the image: a qcow2 overlay, or a raw copy-on-write disk for drivers without qcow2. */
export async function makeDisk(format: 'qcow2' | 'raw', rootfs: string, dir: string, log: Logger): Promise<VmDisk> {
  if (format === 'qcow2') {
    const path = join(dir, 'disk.qcow2');
    await createOverlay(rootfs, 'raw', path);
    return { path, format, release: async () => {} };
  }
  const raw = await prepareRawDisk(rootfs, join(dir, 'disk.raw'), { log });
  return { path: raw.path, format, release: () => raw.release() };
}

export interface GuestNetwork {
  network: VmSpec['network'];
  /** The guest side, for the boot arguments. */
  boot: NonNullable<BootArgsInput['net']>;
  /** Where this process reaches the guest's sshd. */
  ssh: { host: '127.0.0.1'; port: number };
  close(): Promise<void>;
}


/** User-mode networking: the hypervisor forwards a free 127.0.0.1 port to the guest's port 22; no egress. */
export async function userNetwork(): Promise<GuestNetwork> {
  const port = await freePort();
  return {
    network: { mode: 'user', sshHostPort: port, egress: false, forwards: [] },
    boot: { ...USER_NET },
    ssh: { host: '127.0.0.1', port },
    close: async () => {},
  };
}

const NETNS_NET = { host: '172.30.99.1', guest: '172.30.99.2', prefix: 24 } as const;
/** Pipes stdin/stdout to a TCP peer: the namespace end of the 127.0.0.1 forwarder. */
const PIPE_SCRIPT =
  "const s=require('net').connect(Number(process.argv[2]),process.argv[1]);" +
  "process.stdin.pipe(s);s.pipe(process.stdout);s.on('error',()=>process.exit(1));s.on('close',()=>process.exit(0));";

/**
 * A tap in a network namespace created for this run (the host side holds the gateway address), plus a
 * forwarder: each connection to a 127.0.0.1 port is piped to the guest's sshd by a process running inside
 * the namespace. `close` ends the forwarder and deletes the namespace (and with it the tap).
 */
export async function netnsTapNetwork(tag: string): Promise<GuestNetwork> {
  const netns = `bgconf-${tag}-${process.pid}`;
  const tap = 'bgtap0';
  await run(['ip', 'netns', 'add', netns]);
  const pipes = new Set<ProcessHandle>();
  let server: Server | undefined;
  try {
    const inNs = (argv: string[]) => run(['ip', '-n', netns, ...argv]);
    await inNs(['link', 'set', 'lo', 'up']);
    await inNs(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
    await inNs(['addr', 'add', `${NETNS_NET.host}/${NETNS_NET.prefix}`, 'dev', tap]);
    await inNs(['link', 'set', tap, 'up']);
    server = createServer((sock: Socket) => {
      const p = spawnProcess([process.execPath, '-e', PIPE_SCRIPT, NETNS_NET.guest, '22'], { netns, stdio: ['pipe', 'pipe', 'ignore'] });
      pipes.add(p);
      p.child.stdin!.on('error', () => sock.destroy());
      sock.pipe(p.child.stdin!);
      p.child.stdout!.pipe(sock);
      sock.on('error', () => p.kill());
      sock.on('close', () => p.kill());
      const done = () => {
        pipes.delete(p);
        sock.destroy();
      };
      void p.exit.then(done, done);
    });
    const port = await new Promise<number>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(0, '127.0.0.1', () => resolve((server!.address() as { port: number }).port));
    });
    return {
      network: { mode: 'bridge', tap, mac: '02:ba:c0:00:00:02', netns },
      boot: { ip: NETNS_NET.guest, prefix: NETNS_NET.prefix, gateway: NETNS_NET.host, dns: NETNS_NET.host },
      ssh: { host: '127.0.0.1', port },
      close: async () => {
        server?.close();
        for (const p of pipes) p.kill('SIGKILL');
        await run(['ip', 'netns', 'delete', netns], { check: false });
      },
    };
  } catch (err) {
    server?.close();
    await run(['ip', 'netns', 'delete', netns], { check: false });
    throw err;
  }
}
