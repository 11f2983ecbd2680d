/**
 * QEMU user-mode networking's fixed addresses (slirp's defaults, which banger keeps): the guest
 * is 10.0.2.15/24, the host side is the gateway 10.0.2.2, and 10.0.2.3 forwards DNS. The guest is
 * told them on its kernel command line (hypervisor/bootargs.ts); this is the one place they are written.
 */
export const USER_NET = { ip: '10.0.2.15', prefix: 24, gateway: '10.0.2.2', dns: '10.0.2.3' } as const;
export type UserNet = typeof USER_NET;
