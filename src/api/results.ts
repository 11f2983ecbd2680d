/**
 * The result shapes every list and every delete share, so a client handles them one way: a list is
 * `{ <plural>: [...] }` (room for more fields next to it, as `kernel.list`'s `available`), a delete
 * is `{ name, id }`: the name asked for and the identity of what went (a VM's or snapshot's id, an
 * image's or kernel's sha256).
 */
import { z } from 'zod';

export const Deleted = z.object({ name: z.string(), id: z.string() }).strict();
export type Deleted = z.infer<typeof Deleted>;
