/**
 * OCI/Docker image references (`busybox`, `docker.io/library/python:3.12-slim`,
 * `localhost:5000/x:tag`, `ghcr.io/org/img@sha256:…`): parsed into registry, repository, tag and
 * digest with Docker's normalisation (no registry = docker.io, one component = library/NAME,
 * no tag and no digest = latest), and the banger image name a pull registers by default. Pure: the
 * canonical form is what skopeo is given, so nothing user-typed reaches its argv unchecked.
 */
import { BangerError } from '../../../api/errors.js';

export interface OciReference {
  /** host[:port]; docker.io for Docker Hub. */
  registry: string;
  /** Path components joined by '/', e.g. library/busybox. */
  repository: string;
  tag: string | null;
  /** sha256:<64 hex>, when pinned. */
  digest: string | null;
  /** registry/repository[:tag][@digest]: the form handed to `skopeo copy docker://…`. */
  canonical: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

const bad = (ref: string, why: string) =>
  new BangerError('bad_request', `not an image reference: ${JSON.stringify(ref)} (${why}); expected e.g. docker.io/library/busybox:latest or localhost:5000/app@sha256:…`);

/** Parses and normalises a reference; a malformed one is a `bad_request` saying what is wrong. */
export function parseReference(ref: string): OciReference {
  if (ref.length === 0 || ref.length > 512) throw bad(ref, 'empty or longer than 512 characters');
  if (/\s|\0/.test(ref)) throw bad(ref, 'contains whitespace');
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(ref, 'the digest must be sha256: and 64 lower-case hex digits');
  }
  let tag: string | null = null;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(ref, `the tag ${JSON.stringify(tag)} is not valid`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    if (!HOST.test(first)) throw bad(ref, `the registry ${JSON.stringify(first)} is not a host[:port]`);
    registry = first === 'index.docker.io' || first === 'registry-1.docker.io' ? 'docker.io' : first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad(ref, 'repository path components are lower-case letters and digits separated by ".", "_", "__" or "-"');
  }
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (tag === null && digest === null) tag = 'latest';
  const canonical = `${registry}/${repository}${tag === null ? '' : `:${tag}`}${digest === null ? '' : `@${digest}`}`;
  return { registry, repository, tag, digest, canonical };
}

/** The banger image name a pull registers when none is given: the last path component, plus the tag unless `latest`. */
export function defaultImageName(ref: OciReference): string {
  const base = ref.repository.split('/').pop() ?? 'image';
  const raw = ref.tag && ref.tag !== 'latest' ? `${base}-${ref.tag}` : base;
  const name = raw
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name === '' ? 'image' : name;
}
