/**
 * A new SSH host key for a restored VM, made on the host (~1 ms; ssh-keygen under TCG takes most of
 * a second) in the OpenSSH formats sshd reads. It reaches the guest on the identity script's stdin.
 */
import ssh2 from 'ssh2';
import type { HostKey } from './identity.js';

// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
const { utils } = ssh2;

export function generateHostKey(comment: string): HostKey {
  const pair = utils.generateKeyPairSync('ed25519', { comment });
  return { privateKey: pair.private, publicLine: pair.public.trim() };
}
