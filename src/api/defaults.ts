/**
 * The API's default values that the CLI shows in flags and help: plain constants and word lists, no
 * object schemas, so registering the commands at start-up does not build api/'s zod schemas (issue 13).
 * The schema modules re-export them; this is the one place each is spelled.
 */
import { z } from 'zod';

/** The image `image build` makes when no name is given, and the one `vm create` uses by default. */
export const DEFAULT_IMAGE_NAME = 'debian-bookworm';
export const DEFAULT_IMAGE_SIZE = '4G';
/**
 * What `image build` puts in the image: `default` is rich enough to work in (Docker, python3, node,
 * mise, the usual tools); `minimal` is the small image (systemd, sshd, git, build-essential).
 */
export const ImageVariant = z.enum(['default', 'minimal']);
export type ImageVariant = z.infer<typeof ImageVariant>;

/** Where `workspace prepare` puts the repo in the guest unless told. */
export const DEFAULT_GUEST_PATH = '/root/repo';

/**
 * The files, relative to a workspace's root, that make it pin tools with mise (`vm run` bootstraps
 * them with `mise install`; `vm exec` in the workspace runs inside `mise exec`).
 */
export const MISE_CONFIG_FILES = ['.mise.toml', 'mise.toml', '.mise.local.toml', '.config/mise.toml', '.config/mise/config.toml', '.mise/config.toml', 'mise/config.toml', '.tool-versions'] as const;
