/**
 * Row ids of VMs and snapshots (and warm templates): 12 lower-case hex characters. One generator,
 * because names derived from ids depend on the length (tap `bgr<id12>`, short socket paths).
 */
import { randomBytes } from 'node:crypto';

export const newId = (): string => randomBytes(6).toString('hex');
