/**
 * bangerd-root's API: the only things the root helper does, as typed verbs with validated values.
 * Same wire as bangerd (api/wire.ts: one request per connection, newline-delimited JSON), its own
 * method table. The client never sends raw `ip`/`iptables` arguments: it names a VM id, an address,
 * the bridge; the helper derives the tap name and builds the rules itself (network/bridge.ts), and
 * checks each value against its own configuration (rootd/validate.ts) before acting.
 */
import { z } from 'zod';
import { InstallId } from '../system/record.js';

/** A VM id as banger makes them (12 lowercase hex digits); the tap name derives from it. */
export const VmId = z.string().regex(/^[0-9a-f]{12}$/, 'a banger VM id (12 lowercase hex digits)');
/** An interface name the kernel accepts (checked further against the install's bridge alias). */
export const IfName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1-15 letters, digits, _ . -');
export const Ipv4 = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'an IPv4 address');
export const Ipv4Cidr = z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/, 'an IPv4 address with prefix, like 172.30.0.1/24');
const Empty = z.object({}).strict();
const Ok = z.object({ ok: z.literal(true) }).strict();
const AbsPath = z.string().startsWith('/', 'an absolute path').max(4096);

export const HelperStatus = z
  .object({
    version: z.string(),
    pid: z.number().int(),
    installId: InstallId,
    ownerUid: z.number().int(),
    ownerGid: z.number().int(),
    /** Guest addresses the helper accepts (bridge gateway, NAT sources). */
    cidr: z.string(),
    /** Where jailer chroots may be (jailer.spawn). */
    jailerBase: z.string(),
  })
  .strict();

export const BridgeParams = z.object({ bridge: IfName }).strict();
export const BridgeEnsureParams = z.object({ bridge: IfName, gatewayCidr: Ipv4Cidr }).strict();
/** ip + mac: the guest's address and MAC, which the tap is then bound to (anti-spoofing guard). */
export const TapEnsureParams = z.object({ vmId: VmId, bridge: IfName, ip: z.string().optional(), mac: z.string().optional() }).strict();
export const TapParams = z.object({ tap: IfName }).strict();
export const NatParams = z.object({ vmId: VmId, ip: Ipv4, bridge: IfName }).strict();
export const ListedRuleView = z
  .object({ vmId: z.string(), installId: z.string().nullable(), table: z.enum(['nat', 'filter']), chain: z.string(), spec: z.array(z.string()) })
  .strict();
export const ResolverParams = z.object({ host: Ipv4, port: z.number().int().min(1).max(65535) }).strict();
export const ResolverResult = z.object({ path: z.string(), changed: z.boolean() }).strict();

export const JailerSpawnParams = z
  .object({
    vmId: VmId,
    jailerBin: AbsPath,
    firecrackerBin: AbsPath,
    /** Must be the helper's jailer base or inside it. */
    chrootBase: AbsPath,
    /** Arguments for firecracker itself (after `--`): only the API socket inside the jail. */
    apiSock: z.literal('/run/firecracker.socket'),
    /** The VM's console log: an existing regular file of the owner's (opened without following symlinks). */
    serialLog: AbsPath,
    /** A network namespace name (`ip netns`), joined by the jailer. */
    netns: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a network namespace name').optional(),
  })
  .strict();
export const JailerSpawnResult = z.object({ pid: z.number().int(), argv: z.array(z.string()) }).strict();
export const JailerCleanParams = z.object({ vmId: VmId, firecrackerBin: AbsPath, chrootBase: AbsPath }).strict();

const m = <P extends z.ZodType, R extends z.ZodType>(params: P, result: R) => ({ params, result });

export const helperMethods = {
  'helper.status': m(Empty, HelperStatus),
  'bridge.ensure': m(BridgeEnsureParams, Ok),
  'bridge.removeIfIdle': m(BridgeParams, z.object({ removed: z.boolean() }).strict()),
  'tap.ensure': m(TapEnsureParams, z.object({ tap: z.string() }).strict()),
  'tap.remove': m(TapParams, Ok),
  'tap.list': m(Empty, z.object({ taps: z.array(z.string()) }).strict()),
  'nat.ensure': m(NatParams, Ok),
  'nat.remove': m(z.object({ vmId: VmId }).strict(), Ok),
  'rules.list': m(Empty, z.object({ rules: z.array(ListedRuleView) }).strict()),
  'forwarding.enable': m(Empty, Ok),
  'resolver.wire': m(ResolverParams, ResolverResult),
  'resolver.unwire': m(Empty, ResolverResult),
  'jailer.spawn': m(JailerSpawnParams, JailerSpawnResult),
  'jailer.clean': m(JailerCleanParams, Ok),
} as const;

export type HelperMethods = typeof helperMethods;
export type HelperMethod = keyof HelperMethods;
export type HelperParams<M extends HelperMethod> = z.input<HelperMethods[M]['params']>;
export type HelperResult<M extends HelperMethod> = z.output<HelperMethods[M]['result']>;
