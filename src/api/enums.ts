/**
 * The closed sets of words banger's layers share, each spelled once: the API schemas use them,
 * and every other layer imports the inferred types instead of writing the union again.
 */
import { z } from 'zod';

/** How a VM's CPU runs: hardware virtualization or QEMU's software emulation. */
export const Accel = z.enum(['kvm', 'tcg']);
export type Accel = z.infer<typeof Accel>;

/** config.toml `accel`: one of the accelerators, or `auto` (decided from the host, hypervisor/accel.ts). */
export const AccelSetting = z.enum(['auto', ...Accel.options]);
export type AccelSetting = z.infer<typeof AccelSetting>;

/** The hypervisor drivers banger has (hypervisor/registry.ts). */
export const HypervisorName = z.enum(['qemu', 'firecracker']);
export type HypervisorName = z.infer<typeof HypervisorName>;

/** config.toml `hypervisor`: a driver, or `auto` (hypervisor/choice.ts). */
export const HypervisorSetting = z.enum(['auto', ...HypervisorName.options]);
export type HypervisorSetting = z.infer<typeof HypervisorSetting>;

/** A VM's network: QEMU user-mode networking (rootless, ports forwarded to 127.0.0.1) or a tap on banger's bridge. */
export const NetworkMode = z.enum(['user', 'bridge']);
export type NetworkMode = z.infer<typeof NetworkMode>;

/** What `workspace.prepare` copies: HEAD only, or the whole history (and submodules). */
export const WorkspaceMode = z.enum(['shallow', 'full_copy']);
export type WorkspaceMode = z.infer<typeof WorkspaceMode>;
