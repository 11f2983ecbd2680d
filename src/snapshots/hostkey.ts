/**
 * A new SSH host key for a restored VM, made on the host (~1 ms; ssh-keygen under TCG takes most of
 * a second) in the OpenSSH formats sshd reads. It reaches the guest on the identity script's stdin.
 */
import { generateEd25519 } from '../guest/keys.js';
import type { HostKey } from './identity.js';

export function generateHostKey(comment: string): HostKey {
  const pair = generateEd25519(comment);
  return { privateKey: pair.private, publicLine: pair.public.trim() };
}
