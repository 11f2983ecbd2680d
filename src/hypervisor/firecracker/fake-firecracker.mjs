#!/usr/bin/env node
/**
 * Test seam for contract.host.test.ts: a stand-in for the firecracker binary (Firecracker itself cannot run
 * on these hosts). It is spawned by the real driver code, like the real binary:
 *
 *   fake-firecracker.mjs --version
 *   fake-firecracker.mjs --api-sock PATH [--id ID]
 *
 * It serves HTTP on PATH, answers like Firecracker (204 on success, 400 + {"fault_message"} on
 * failure), and appends every request to PATH.requests.jsonl before answering, so the test validates
 * exactly what the driver sent. It keeps Firecracker's state rules that the swagger file cannot express
 * (pre-boot-only resources, snapshot/load only on a fresh process, snapshot/create only when paused,
 * log_path must already exist), binds the vsock socket, writes "console" output to stdout, and exits
 * after SendCtrlAltDel as Firecracker does when the guest reboots.
 *
 * Plain JavaScript on purpose: it runs as a child process under bare node, without a TypeScript loader.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';

const args = process.argv.slice(2);
const version = process.env.FAKE_FC_VERSION || '1.14.1';
if (args.includes('--version')) {
  process.stdout.write(`Firecracker v${version}\n`);
  process.exit(0);
}
const sockIndex = args.indexOf('--api-sock');
if (sockIndex < 0 || !args[sockIndex + 1]) {
  process.stderr.write('fake-firecracker: --api-sock PATH is required\n');
  process.exit(2);
}
// Under fake-jailer.mjs, paths in argv and bodies are relative to the jail root, as for the real jailer.
const jailRoot = process.env.FAKE_FC_ROOT || '';
const onHost = (p) => (jailRoot ? join(jailRoot, p) : p);
/** Set by a test to make one path answer 400, like a real refusal (e.g. a missing tap device). */
const failPath = process.env.FAKE_FC_FAIL || '';
const apiSock = onHost(args[sockIndex + 1]);
const idIndex = args.indexOf('--id');
const instanceId =
  idIndex >= 0 ? args[idIndex + 1] : (args.find((a) => a.startsWith('--id='))?.slice('--id='.length) ?? 'anonymous-instance');
const recordFile = `${apiSock}.requests.jsonl`;

// Node's umask() without an argument is deprecated but is the only way to read it.
const umask = process.umask();
appendFileSync(recordFile, JSON.stringify({ event: 'start', pid: process.pid, argv: args, umask }) + '\n');

/** 'Not started' until InstanceStart or snapshot/load; then 'Running' or 'Paused'. */
let state = 'Not started';
let configured = []; // resources set before boot (logger excluded, as for snapshot/load)
let config = {};
let vsockServer;

const PRE_BOOT = ['/logger', '/machine-config', '/boot-source', '/vsock'];
const isPreBoot = (path) => PRE_BOOT.includes(path) || path.startsWith('/drives/') || path.startsWith('/network-interfaces/');

function fault(res, status, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ fault_message: message }));
}

function ok(res) {
  res.writeHead(204);
  res.end();
}

function bindVsock(udsPath) {
  vsockServer = createNetServer(() => {}).listen(udsPath);
}

function handle(method, path, body, res) {
  if (failPath && path === failPath) return fault(res, 400, `fake refusal of ${path}: Open tap device failed`);
  if (method === 'GET' && path === '/') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ id: instanceId, state, vmm_version: version, app_name: 'Firecracker' }));
    return;
  }
  if (method === 'PUT' && isPreBoot(path)) {
    if (state !== 'Not started') return fault(res, 400, 'The requested operation is not supported after starting the microVM.');
    if (path === '/logger' && body.log_path && !existsSync(onHost(body.log_path))) {
      return fault(res, 400, 'Failed to open target file: No such file or directory (os error 2)');
    }
    if (path !== '/logger') configured.push(path);
    config[path] = body;
    return ok(res);
  }
  if (method === 'PUT' && path === '/actions') {
    if (body.action_type === 'InstanceStart') {
      if (state !== 'Not started') return fault(res, 400, 'The requested operation is not supported after starting the microVM.');
      if (!config['/boot-source']) return fault(res, 400, 'Cannot start microvm without kernel configuration.');
      state = 'Running';
      if (config['/vsock']) bindVsock(onHost(config['/vsock'].uds_path));
      process.stdout.write('[    0.000000] Linux version 6.1.0-fake (fake-firecracker)\n');
      return ok(res);
    }
    if (body.action_type === 'SendCtrlAltDel') {
      if (state === 'Not started') return fault(res, 400, 'The requested operation is not supported before starting the microVM.');
      ok(res);
      // The guest reboots; Firecracker does not reboot, it exits.
      setTimeout(() => process.exit(0), 50);
      return;
    }
    return fault(res, 400, `Unsupported action ${body.action_type}`);
  }
  if (method === 'PATCH' && path === '/vm') {
    if (state === 'Not started') return fault(res, 400, 'The requested operation is not supported before starting the microVM.');
    state = body.state === 'Paused' ? 'Paused' : 'Running';
    return ok(res);
  }
  if (method === 'PUT' && path === '/snapshot/create') {
    if (state !== 'Paused') return fault(res, 400, 'Cannot save microVM state: the microVM must be paused.');
    writeFileSync(onHost(body.snapshot_path), JSON.stringify({ fake: 'vmstate', vsock: config['/vsock'] ?? null }));
    writeFileSync(onHost(body.mem_file_path), 'fake guest memory');
    return ok(res);
  }
  if (method === 'PUT' && path === '/snapshot/load') {
    if (state !== 'Not started' || configured.length > 0) {
      return fault(res, 400, 'Loading a microVM snapshot not allowed after configuring boot-specific resources.');
    }
    const memPath = body.mem_backend?.backend_path ?? body.mem_file_path;
    if (!existsSync(onHost(body.snapshot_path)) || !existsSync(onHost(memPath))) {
      return fault(res, 400, 'Load snapshot error: No such file or directory (os error 2)');
    }
    const saved = JSON.parse(readFileSync(onHost(body.snapshot_path), 'utf8'));
    if (saved.vsock) bindVsock(onHost(saved.vsock.uds_path));
    state = body.resume_vm ? 'Running' : 'Paused';
    return ok(res);
  }
  return fault(res, 400, 'Invalid request method and/or path');
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        appendFileSync(recordFile, JSON.stringify({ event: 'request', method: req.method, path: req.url, raw: text }) + '\n');
        return fault(res, 400, 'Malformed JSON body');
      }
    }
    appendFileSync(recordFile, JSON.stringify({ event: 'request', method: req.method, path: req.url, ...(body === undefined ? {} : { body }) }) + '\n');
    handle(req.method, req.url, body ?? {}, res);
  });
});
server.listen(apiSock);
process.on('SIGTERM', () => process.exit(0));
process.on('exit', () => vsockServer?.close());
